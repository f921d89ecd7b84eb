/**
 * keel's one crash-safe write, for every part that replaces a file on disk: a temp file in
 * the same directory (O_EXCL, random suffix, never through a link), the bytes, owner and
 * mode set on it, fsync, rename over the target, fsync of the file under its new name, then
 * of the directory, so the rename itself survives a power cut. A crash leaves the old file
 * or the new one, never a torn one; a failure before the rename removes the temp file.
 *
 * The second fsync is for FAT, the ESP's filesystem, where the boot entries live: Linux's
 * vfat writes a renamed file's new directory entry with no size and no clusters and fills
 * them in only when the file's inode is written back, seconds later; a directory fsync does
 * not do it. A qemu guest killed in that window came back with a 0-byte boot entry for the
 * release it had just staged (the cluster e2e test), booted the old slot and counted the
 * release as rolled back. On ext4 the file is already clean: the fsync costs a journal commit.
 *
 * Paths here are host paths: confining them to a root is RootFs's job, which calls this.
 */
import { constants } from 'node:fs';
import { open, rename, symlink, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';

/** Owner and mode of a written file or directory. */
export interface Ownership {
  mode: number;
  uid: number;
  gid: number;
}

/** How a file is written: its mode (default 0644) and, when given, its owner. */
export interface WriteOptions {
  mode?: number;
  uid?: number;
  gid?: number;
  /** The system calls used; tests pass a recording or failing one. */
  io?: CrashSafeIo;
}

/** The part of an open file the write uses. */
export interface WritableHandle {
  writeFile(data: Uint8Array): Promise<void>;
  chown(uid: number, gid: number): Promise<void>;
  chmod(mode: number): Promise<void>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

/** The system calls of a crash-safe write: a seam so tests can record their order or fail one. */
export interface CrashSafeIo {
  open(path: string, flags: number, mode?: number): Promise<WritableHandle>;
  rename(from: string, to: string): Promise<void>;
  symlink(target: string, path: string): Promise<void>;
  unlink(path: string): Promise<void>;
}

/** The real system calls. */
export const nodeIo: CrashSafeIo = { open, rename, symlink, unlink };

/**
 * A fresh temp name beside `path`. The target's name is cut short so a 255-byte name does
 * not make the temp name too long; the random part keeps concurrent writers apart.
 */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path).slice(0, 32)}.keel-${randomBytes(6).toString('hex')}.tmp`);
}

async function removeQuietly(io: CrashSafeIo, path: string): Promise<void> {
  await io.unlink(path).catch(() => undefined);
}

/** Opens `path` with `flags` and fsyncs it. */
async function syncOpened(path: string, flags: number, io: CrashSafeIo): Promise<void> {
  const handle = await io.open(path, flags);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** fsyncs a directory, so a rename or a new entry in it is on disk. */
export function syncDirectory(dir: string, io: CrashSafeIo = nodeIo): Promise<void> {
  return syncOpened(dir, constants.O_RDONLY | constants.O_DIRECTORY, io);
}

/** fsyncs a file just renamed to `path`, so its size and clusters are on disk under that name (FAT: see the file comment). */
function syncRenamed(path: string, io: CrashSafeIo): Promise<void> {
  return syncOpened(path, constants.O_RDONLY | constants.O_NOFOLLOW, io);
}

/** Renames a file in one directory crash-safely: the rename, then the file and the directory fsynced (see the file comment). */
export async function renameCrashSafe(from: string, to: string, io: CrashSafeIo = nodeIo): Promise<void> {
  await io.rename(from, to);
  await syncRenamed(to, io);
  await syncDirectory(dirname(to), io);
}

/** Replaces `path` with `data` crash-safely (see the file comment). */
export async function writeFileCrashSafe(path: string, data: Uint8Array, options: WriteOptions = {}): Promise<void> {
  const io = options.io ?? nodeIo;
  const tmp = tempPathFor(path);
  // O_NOFOLLOW and O_EXCL: the temp name is new, never something planted there.
  const handle = await io.open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    try {
      await handle.writeFile(data);
      // Owner before mode: chown clears set-id bits, so the mode asked for is the one that stays.
      if (options.uid !== undefined || options.gid !== undefined) await handle.chown(options.uid ?? -1, options.gid ?? -1);
      await handle.chmod(options.mode ?? 0o644);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await io.rename(tmp, path);
  } catch (error) {
    await removeQuietly(io, tmp);
    throw error;
  }
  await syncRenamed(path, io);
  await syncDirectory(dirname(path), io);
}

/** Replaces `path` with a symlink to `target` (stored as given) crash-safely. */
export async function symlinkCrashSafe(path: string, target: string, options: Pick<WriteOptions, 'io'> = {}): Promise<void> {
  const io = options.io ?? nodeIo;
  const tmp = tempPathFor(path);
  await io.symlink(target, tmp);
  try {
    await io.rename(tmp, path);
  } catch (error) {
    await removeQuietly(io, tmp);
    throw error;
  }
  await syncDirectory(dirname(path), io);
}
