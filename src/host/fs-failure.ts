import { KeelError } from '../errors.js';

/**
 * The one place an errno error from a filesystem call becomes a KeelError a person can act
 * on: the path, what keel was doing, what the code means, and what to do next. Node's own
 * text (`ENOSPC: no space left on device, write`) often names no path at all.
 */
const meanings: Record<string, [reason: string, next: string]> = {
  ENOENT: ['it does not exist', 'check the path'],
  ENOTDIR: ['a part of the path is not a directory', 'check the path: a file stands where a directory is expected'],
  EISDIR: ['it is a directory', 'name a file instead'],
  EEXIST: ['it already exists', 'remove it or choose another path'],
  EACCES: ['permission denied', 'check its owner and mode, or run as a user allowed there'],
  EPERM: ['operation not permitted', 'check its owner, mode and attributes, or run as a user allowed there'],
  EROFS: ['the filesystem is read-only', 'remount it read-write or choose another path'],
  ENOSPC: ['no space left on the device', 'free space there and run again'],
  EDQUOT: ['the disk quota is used up', 'free space or raise the quota and run again'],
  EFBIG: ['the file would be too large for this filesystem', 'choose another filesystem'],
  EIO: ['the device reported an input/output error', 'check the device (dmesg) before using it again'],
  ENXIO: ['no such device', 'check that the device is present'],
  ENODEV: ['no such device', 'check that the device is present'],
  EBUSY: ['it is busy', 'stop what is using it and run again'],
  ELOOP: ['too many symbolic links', 'check the symlinks on the path'],
  ENAMETOOLONG: ['the name is too long', 'choose a shorter path'],
  EMFILE: ['too many open files', 'raise the open-file limit and run again'],
  ENFILE: ['too many open files on the system', 'run again later'],
  EXDEV: ['it is on another filesystem', 'keep the files on one filesystem'],
};

/** The errno code of an error, if it has one. */
export function errnoOf(error: unknown): string | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? code : undefined;
}

/**
 * Turns `error` from a filesystem call on `path` into a KeelError: `PATH: cannot ACTION: REASON
 * (CODE); NEXT[; CONSEQUENCE]`. A KeelError passes through unchanged.
 */
export function fsFailure(error: unknown, path: string, action: string, consequence?: string): KeelError {
  if (error instanceof KeelError) return error;
  const code = errnoOf(error);
  const [reason, next] = (code && meanings[code]) ?? [code ? `system error ${code}` : 'an unexpected failure', 'check the path and run again'];
  const tail = consequence ? `; ${consequence}` : '';
  return new KeelError(code === 'ENOENT' ? 'not-found' : 'io', `${path}: cannot ${action}: ${reason}${code ? ` (${code})` : ''}; ${next}${tail}`, { cause: error });
}

/** Runs one filesystem call on `path`, turning its failure into fsFailure's KeelError. */
export async function onPath<T>(path: string, action: string, call: () => Promise<T>, consequence?: string): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw fsFailure(error, path, action, consequence);
  }
}
