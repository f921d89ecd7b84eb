/**
 * Loop devices over sparse files, for tests that write real block devices (keel install): the
 * devices attached are listed so the test detaches them after, and a device's bytes are read
 * back at an offset.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { execaSync } from 'execa';

const mib = 1024 * 1024;

/** A sparse file `name` of `sizeMiB` under `dir`, attached to a free loop device (pushed on `loops`); the device. */
export function attachLoop(dir: string, sizeMiB: number, name: string, loops: string[]): string {
  const file = join(dir, name);
  execaSync('truncate', ['-s', `${sizeMiB * mib}`, file]);
  const dev = execaSync('losetup', ['--find', '--show', file]).stdout.trim();
  loops.push(dev);
  return dev;
}

/** `length` bytes of `dev` (or any file) at `offset`. */
export function readAt(dev: string, offset: number, length: number): Buffer {
  const fd = openSync(dev, 'r');
  try {
    const buf = Buffer.alloc(length);
    readSync(fd, buf, 0, length, offset);
    return buf;
  } finally {
    closeSync(fd);
  }
}
