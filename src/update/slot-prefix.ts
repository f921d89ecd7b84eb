import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { open, rm, statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import { KeelError } from '../errors.js';
import { onPath } from '../host/fs-failure.js';
import { writeAt } from './slot-writer.js';

/**
 * The running slot's leading bytes, read from its device (or file): hashed to learn which
 * delta base it is (a slot partition is larger than the image in it, so only the image's
 * length counts), and copied into a regular file, because zstd 1.5.4's `--patch-from` refuses
 * a block device or pipe as its base ("Using --patch-from with stdin requires --stream-size").
 */
const chunkBytes = 4 << 20;

/** SHA-256 of the first `length` bytes of `path` for each length; a length past the end is left out. */
export async function hashPrefixes(path: string, lengths: readonly number[]): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  if (lengths.length === 0) return out;
  const handle = await onPath(path, 'open the running slot', () => open(path, constants.O_RDONLY));
  try {
    const sorted = [...lengths].sort((a, b) => a - b);
    const hash = createHash('sha256');
    const buffer = Buffer.allocUnsafe(chunkBytes);
    let position = 0;
    for (const length of sorted) {
      while (position < length) {
        const { bytesRead } = await onPath(path, 'read', () => handle.read(buffer, 0, Math.min(buffer.length, length - position), position));
        if (bytesRead === 0) return out;
        hash.update(buffer.subarray(0, bytesRead));
        position += bytesRead;
      }
      out.set(length, hash.copy().digest('hex'));
    }
    return out;
  } finally {
    await handle.close();
  }
}

/**
 * Copies the first `length` bytes of `path` into `dest` (a new file) and returns their SHA-256,
 * read once for both. Refuses when `dest`'s filesystem lacks the room, or `path` is shorter;
 * removes `dest` on any failure.
 */
export async function copyPrefix(path: string, length: number, dest: string): Promise<string> {
  const fs = await onPath(dirname(dest), 'measure free space', () => statfs(dirname(dest)));
  if (fs.bavail * fs.bsize < length) throw new KeelError('io', `${dirname(dest)}: ${fs.bavail * fs.bsize} bytes free, a delta's ${length}-byte base does not fit; not used`);
  const source = await onPath(path, 'open the running slot', () => open(path, constants.O_RDONLY));
  try {
    const out = await onPath(dest, 'create', () => open(dest, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o600));
    try {
      const hash = createHash('sha256');
      const buffer = Buffer.allocUnsafe(chunkBytes);
      for (let position = 0; position < length; ) {
        const { bytesRead } = await onPath(path, 'read', () => source.read(buffer, 0, Math.min(buffer.length, length - position), position));
        if (bytesRead === 0) throw new KeelError('verification', `${path}: ended after ${position} bytes, a delta's base has ${length}; not used`);
        const chunk = buffer.subarray(0, bytesRead);
        hash.update(chunk);
        await writeAt(out, chunk, position, dest);
        position += bytesRead;
      }
      return hash.digest('hex');
    } finally {
      await out.close();
    }
  } catch (error) {
    await rm(dest, { force: true });
    throw error;
  } finally {
    await source.close();
  }
}
