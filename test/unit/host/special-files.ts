/** Makers of the hostile file types a root can hold, for tests: FIFOs, device nodes, sockets, sparse giants. */
import { execFileSync } from 'node:child_process';
import { truncate, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';

export function mkfifo(path: string): void {
  execFileSync('mkfifo', [path]);
}

/** A character device like /dev/zero (1,5); the tests run as root, as the rest of the unit tier does. */
export function mkCharDevice(path: string, major = 1, minor = 5): void {
  execFileSync('mknod', [path, 'c', String(major), String(minor)]);
}

export function mkBlockDevice(path: string): void {
  execFileSync('mknod', [path, 'b', '7', '0']);
}

/** A listening unix socket at `path`; close it after the test. */
export async function mkSocket(path: string): Promise<Server> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return server;
}

/** A sparse file that stat reports as `bytes` long but that uses no disk. */
export async function mkSparse(path: string, bytes: number): Promise<void> {
  await writeFile(path, '');
  await truncate(path, bytes);
}
