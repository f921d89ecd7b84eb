/**
 * Reading a file keel will parse or rewrite, from a tree it does not trust: only a regular
 * file, and only up to a size bound. A FIFO would block the read forever, a device node
 * (`/dev/zero`, a disk) would stream without end or touch hardware, and a socket cannot be
 * read at all; each is refused before it is opened, and checked again on the open
 * descriptor (opened without blocking and without following a link) in case the path
 * changed in between.
 */
import { constants, type Stats } from 'node:fs';
import { lstat, open } from 'node:fs/promises';
import { KeelError } from '../errors.js';

/**
 * The largest file keel reads: 32 MiB. keel reads whole files into memory to parse them
 * (account databases, unit files, its instance record) or to rewrite them with something
 * appended; those are kilobytes on a real host. 32 MiB is twice the largest content a
 * cloud-config file may carry (16 MiB decoded), so an append of the largest content to the
 * largest target peaks near 100 MiB, well inside the 512 MB keel is allowed.
 */
export const maxReadBytes = 32 * 1024 * 1024;

/** The file type a stat names, as a message says it ("a FIFO"). */
export function describeType(st: Stats): string {
  if (st.isFile()) return 'a regular file';
  if (st.isDirectory()) return 'a directory';
  if (st.isSymbolicLink()) return 'a symlink';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'a special file';
}

/**
 * Why the file at `shown` (a path as a user should read it) cannot be read, or undefined
 * when it can: not a regular file, or larger than `maxBytes`.
 */
export function readProblem(st: Stats, shown: string, maxBytes = maxReadBytes): string | undefined {
  if (!st.isFile()) return `${shown} is ${describeType(st)}; expected a regular file`;
  if (st.size > maxBytes) return `${shown} is ${st.size} bytes; expected at most ${maxBytes} bytes`;
  return undefined;
}

function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/**
 * Reads the regular file at `hostPath` (never following a final link), or undefined when
 * nothing is there. Anything else, or more than `maxBytes`, is refused with KeelError
 * 'unsafe-path' naming `shown`.
 */
export async function readRegularFile(hostPath: string, shown: string, maxBytes = maxReadBytes): Promise<Buffer | undefined> {
  let st: Stats;
  try {
    st = await lstat(hostPath);
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
  const refuse = (problem: string) => new KeelError('unsafe-path', `${problem}; refusing to read it`);
  const before = readProblem(st, shown, maxBytes);
  if (before) throw refuse(before);
  // O_NONBLOCK: if a FIFO was swapped in since the lstat, the open returns at once instead of waiting for a writer.
  const handle = await open(hostPath, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code === 'ELOOP') throw refuse(`${shown} became a symlink while being read`);
    throw error;
  });
  try {
    const opened = await handle.stat();
    const now = readProblem(opened, shown, maxBytes);
    if (now) throw refuse(now);
    // Read until end of file, but never more than one byte past the bound: a file that grows after the stat is caught too.
    const chunks: Buffer[] = [];
    let length = 0;
    for (let want = Math.min(opened.size, maxBytes) + 1; ; want = Math.min(64 * 1024, maxBytes + 1 - length)) {
      const chunk = Buffer.alloc(want);
      const { bytesRead } = await handle.read(chunk, 0, want, length);
      if (bytesRead === 0) break;
      chunks.push(chunk.subarray(0, bytesRead));
      length += bytesRead;
      if (length > maxBytes) throw refuse(`${shown} grew past ${maxBytes} bytes while being read`);
    }
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, length);
  } finally {
    await handle.close();
  }
}
