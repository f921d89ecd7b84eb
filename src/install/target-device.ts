/**
 * Reads what the kernel says about the install target (an edge): block device or plain
 * file, size, partitions, holders, read-only flag, from stat and /sys/dev/block.
 */
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { KeelError } from '../errors.js';
import type { TargetDevice } from './device-users.js';

/** Linux's dev_t split (glibc's major()/minor()). */
export function devNumber(rdev: number): string {
  const r = BigInt(rdev);
  const major = ((r >> 8n) & 0xfffn) | ((r >> 32n) & ~0xfffn);
  const minor = (r & 0xffn) | ((r >> 12n) & ~0xffn);
  return `${major}:${minor}`;
}

function readTrim(path: string): string {
  return readFileSync(path, 'utf8').trim();
}

/** Inspects `path`; `sysRoot` is /sys except in tests. */
export function inspectTarget(path: string, sysRoot = '/sys'): TargetDevice {
  let st;
  try {
    st = statSync(path);
  } catch (error) {
    throw new KeelError('not-found', `device ${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such device or file' : (error as Error).message}; nothing written`, { cause: error });
  }
  if (st.isFile()) return { path, kind: 'file', sizeBytes: st.size, names: [], devNums: [], holders: [], readOnly: false };
  if (!st.isBlockDevice()) throw new KeelError('invalid-input', `device ${path} is neither a block device nor a file; nothing written`);
  const num = devNumber(st.rdev);
  const sysLink = join(sysRoot, 'dev/block', num);
  if (!existsSync(sysLink)) throw new KeelError('not-found', `device ${path} (${num}) has no ${sysLink}; nothing written`);
  return readSysBlock(realpathSync(sysLink), path);
}

/** The TargetDevice of the block device whose /sys/devices/… directory is `sysDir`. */
export function readSysBlock(sysDir: string, path: string): TargetDevice {
  const name = basename(sysDir);
  const partitionOf = existsSync(join(sysDir, 'partition')) ? basename(join(sysDir, '..')) : undefined;
  const names = [name];
  const devNums = [readTrim(join(sysDir, 'dev'))];
  const holders = readdirSync(join(sysDir, 'holders'));
  for (const entry of readdirSync(sysDir)) {
    const sub = join(sysDir, entry);
    if (!existsSync(join(sub, 'partition'))) continue;
    names.push(entry);
    devNums.push(readTrim(join(sub, 'dev')));
    holders.push(...readdirSync(join(sub, 'holders')).map((h) => `${h} (through ${entry})`));
  }
  return {
    path,
    kind: 'block',
    sizeBytes: Number(readTrim(join(sysDir, 'size'))) * 512,
    names,
    devNums,
    holders,
    partitionOf,
    readOnly: readTrim(join(sysDir, 'ro')) === '1',
  };
}
