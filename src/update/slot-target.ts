import { access, lstat, open, readFile, stat, statfs } from 'node:fs/promises';
import { constants, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import { KeelError } from '../errors.js';
import { errnoOf, fsFailure, onPath } from '../host/fs-failure.js';

/**
 * Where a slot image goes, checked before a byte is downloaded: a regular file (new or
 * replaced; written beside itself as `<file>.keel-partial` and renamed when verified) or a
 * block device (written in place). A directory, FIFO, character device or socket, a missing
 * or read-only directory, a too-small device or too little free space is refused up front.
 */
export type SlotTarget = { kind: 'file'; path: string; partialPath: string } | { kind: 'block'; path: string; sizeBytes: number };

const expected = 'expected a slot image file path (which may not exist yet) or a block device';
const consequence = 'nothing downloaded';

/** Checks `target`; with `length`, also that the image fits. */
export async function probeSlotTarget(target: string, length?: number): Promise<SlotTarget> {
  const info = await stat(target).catch((error: unknown) => {
    if (errnoOf(error) === 'ENOENT') return undefined;
    throw fsFailure(error, target, 'inspect the target', consequence);
  });
  if (info?.isBlockDevice()) {
    // Opening for writing finds a read-only device or a missing permission now, not mid-write.
    const handle = await onPath(target, 'open the device for writing', () => open(target, 'r+'), consequence);
    await handle.close();
    // Linux opens a read-only device for writing and fails each write instead: ask sysfs.
    if ((await sysfsValue(info, 'ro')) === '1')
      throw new KeelError('io', `${target}: the block device is read-only; make it writable (blockdev --setrw) or choose another; ${consequence}`);
    const sizeBytes = await deviceSize(info);
    if (length !== undefined && sizeBytes < length)
      throw new KeelError('invalid-input', `${target}: the device holds ${sizeBytes} bytes, smaller than the ${length}-byte slot image; ${consequence}`);
    return { kind: 'block', path: target, sizeBytes };
  }
  if (info && !info.isFile()) throw new KeelError('invalid-input', `${target}: is ${kindOf(info)}; ${expected}; ${consequence}`);
  const dir = dirname(target);
  const dirInfo = await onPath(dir, 'inspect the directory of the target', () => stat(dir), consequence);
  if (!dirInfo.isDirectory()) throw new KeelError('invalid-input', `${target}: ${dir} is not a directory; ${expected}; ${consequence}`);
  await onPath(dir, 'write in the directory of the target', () => access(dir, constants.W_OK), consequence);
  const partialPath = `${target}.keel-partial`;
  const partial = await lstat(partialPath).catch(() => undefined);
  if (partial && !partial.isFile())
    throw new KeelError('invalid-input', `${partialPath}: is ${kindOf(partial)}, where keel keeps a download in progress; remove it and run again; ${consequence}`);
  if (length !== undefined) {
    const fs = await onPath(dir, 'measure free space', () => statfs(dir), consequence);
    const free = fs.bavail * fs.bsize + (partial?.size ?? 0);
    if (free < length) throw new KeelError('io', `${dir}: ${free} bytes free, the ${length}-byte slot image does not fit; free space there and run again; ${consequence}`);
  }
  return { kind: 'file', path: target, partialPath };
}

function kindOf(info: Stats): string {
  if (info.isDirectory()) return 'a directory';
  if (info.isFIFO()) return 'a FIFO';
  if (info.isCharacterDevice()) return 'a character device';
  if (info.isSocket()) return 'a socket';
  if (info.isSymbolicLink()) return 'a symlink';
  if (info.isBlockDevice()) return 'a block device';
  return 'not a regular file';
}

/** A block device's size from sysfs (stat reports 0 for devices); unknown = unlimited. */
async function deviceSize(info: Stats): Promise<number> {
  const sectors = await sysfsValue(info, 'size');
  return sectors === undefined ? Number.MAX_SAFE_INTEGER : Number(sectors) * 512;
}

/** One attribute of a block device in /sys/dev/block/MAJOR:MINOR/, or undefined. */
async function sysfsValue(info: Stats, name: string): Promise<string | undefined> {
  const major = (info.rdev >> 8) & 0xfff;
  const minor = (info.rdev & 0xff) | ((info.rdev >> 12) & 0xfff00);
  return (await readFile(`/sys/dev/block/${major}:${minor}/${name}`, 'utf8').catch(() => undefined))?.trim();
}
