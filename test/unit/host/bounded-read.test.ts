import { appendFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { maxReadBytes, readRegularFile } from '../../../src/host/bounded-read.js';
import { KeelError } from '../../../src/errors.js';
import { mkBlockDevice, mkCharDevice, mkfifo, mkSocket, mkSparse } from './special-files.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'keel-bounded-read-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function refusal(p: Promise<unknown>): Promise<string> {
  const error = await p.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(KeelError);
  expect((error as KeelError).kind).toBe('unsafe-path');
  return (error as KeelError).message;
}

describe('readRegularFile', () => {
  test('reads a regular file whole, and undefined when nothing is there', async () => {
    await writeFile(join(dir, 'f'), 'data\n');
    expect((await readRegularFile(join(dir, 'f'), '/etc/f'))?.toString()).toBe('data\n');
    expect(await readRegularFile(join(dir, 'missing'), '/etc/missing')).toBeUndefined();
    expect(await readRegularFile(join(dir, 'missing', 'below'), '/etc/missing/below')).toBeUndefined();
  });

  test('an empty file reads as empty', async () => {
    await writeFile(join(dir, 'f'), '');
    expect((await readRegularFile(join(dir, 'f'), '/etc/f'))?.length).toBe(0);
  });

  // Before: a FIFO with no writer blocked the read forever (this test timed out).
  test('a FIFO is refused at once, naming the shown path', async () => {
    mkfifo(join(dir, 'passwd'));
    expect(await refusal(readRegularFile(join(dir, 'passwd'), '/etc/passwd'))).toBe('/etc/passwd is a FIFO (named pipe); expected a regular file; refusing to read it');
  });

  test.each([
    ['a character device', (p: string) => mkCharDevice(p), '/dev/zero is a character device'],
    ['a block device', (p: string) => mkBlockDevice(p), '/dev/zero is a block device'],
    ['a directory', (p: string) => mkdir(p), '/dev/zero is a directory'],
  ])('%s is refused without being opened', async (_name, make, expected) => {
    await make(join(dir, 'node'));
    expect(await refusal(readRegularFile(join(dir, 'node'), '/dev/zero'))).toBe(`${expected}; expected a regular file; refusing to read it`);
  });

  test('a socket is refused', async () => {
    const server = await mkSocket(join(dir, 'sock'));
    try {
      expect(await refusal(readRegularFile(join(dir, 'sock'), '/run/sock'))).toMatch(/^\/run\/sock is a socket; expected a regular file/);
    } finally {
      server.close();
    }
  });

  test('a final symlink is not followed', async () => {
    await writeFile(join(dir, 'real'), 'x');
    await symlink('real', join(dir, 'link'));
    expect(await refusal(readRegularFile(join(dir, 'link'), '/etc/link'))).toMatch(/^\/etc\/link is a symlink/);
  });

  test('a file larger than the bound is refused before it is read', async () => {
    await mkSparse(join(dir, 'big'), maxReadBytes + 1);
    expect(await refusal(readRegularFile(join(dir, 'big'), '/etc/big'))).toBe(`/etc/big is ${maxReadBytes + 1} bytes; expected at most ${maxReadBytes} bytes; refusing to read it`);
  });

  test('the bound can be given per read; exactly the bound is allowed', async () => {
    await writeFile(join(dir, 'f'), '12345');
    expect((await readRegularFile(join(dir, 'f'), '/f', 5))?.toString()).toBe('12345');
    await appendFile(join(dir, 'f'), '6');
    expect(await refusal(readRegularFile(join(dir, 'f'), '/f', 5))).toMatch(/is 6 bytes; expected at most 5 bytes/);
  });
});
