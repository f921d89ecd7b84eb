import { lstat, mkdir, realpath } from 'node:fs/promises';
import { isAbsolute, join, relative, sep } from 'node:path';
import { KeelError } from '../errors.js';
import { errnoOf, fsFailure, onPath } from '../host/fs-failure.js';

/**
 * Paths a publisher takes from a manifest, a channel name or a repository that already
 * exists, kept inside one directory: lexically (no absolute path, no `..`) and after
 * symlinks (the real path must still be under the directory's real path), so a hostile
 * bundle cannot publish a host file and a hostile repository cannot redirect a write.
 */

/** Why a relative path from input is not a plain path inside its directory, or undefined. */
export function relativePathProblem(path: string): string | undefined {
  if (path === '') return 'is empty';
  if (path.includes('\0')) return 'contains a NUL byte';
  if (isAbsolute(path)) return 'is an absolute path';
  if (path.split(/[/\\]/).includes('..')) return "climbs out with '..'";
  return undefined;
}

/** True when `path` is `dir` or below it (both already real paths). */
export function isInside(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

/**
 * The real path of `dir/rel` when it exists and stays inside `dir` after symlinks.
 * `label` names the input in the message, `consequence` ends it.
 */
export async function realPathInside(dir: string, rel: string, label: string, consequence: string): Promise<string> {
  const problem = relativePathProblem(rel);
  if (problem) throw new KeelError('unsafe-path', `${label}: ${JSON.stringify(rel)} ${problem}; expected a path inside ${dir}; ${consequence}`);
  const realDir = await onPath(dir, 'resolve', () => realpath(dir), consequence);
  const real = await realpath(join(realDir, rel)).catch((error: unknown) => {
    throw errnoOf(error) === 'ENOENT' ? new KeelError('not-found', `${label}: ${join(dir, rel)} does not exist; ${consequence}`, { cause: error }) : fsFailure(error, join(dir, rel), 'resolve', consequence);
  });
  if (!isInside(realDir, real))
    throw new KeelError('unsafe-path', `${label}: ${JSON.stringify(rel)} leads outside ${dir} through a symlink (to ${real}); ${consequence}`);
  return real;
}

/**
 * Creates `dir/rel` (directories) one component at a time and returns its real path. Each
 * component is checked before the next is made, so a symlink out of `dir` is refused before
 * anything is created through it.
 */
export async function mkdirInside(dir: string, rel: string, consequence: string): Promise<string> {
  const problem = relativePathProblem(rel);
  if (problem) throw new KeelError('unsafe-path', `${join(dir, rel)}: ${JSON.stringify(rel)} ${problem}; ${consequence}`);
  const realDir = await onPath(dir, 'resolve', () => realpath(dir), consequence);
  let current = realDir;
  for (const part of rel.split('/').filter((p) => p !== '' && p !== '.')) {
    const next = join(current, part);
    await mkdir(next).catch((error: unknown) => {
      if (errnoOf(error) !== 'EEXIST') throw fsFailure(error, next, 'create the directory', consequence);
    });
    const real = await onPath(next, 'resolve', () => realpath(next), consequence);
    if (!isInside(realDir, real)) throw new KeelError('unsafe-path', `${next}: leads outside ${dir} through a symlink (to ${real}); ${consequence}`);
    const entry = await onPath(real, 'inspect', () => lstat(real), consequence);
    if (!entry.isDirectory()) throw new KeelError('io', `${next}: expected a directory, found another kind of file; ${consequence}`);
    current = real;
  }
  return current;
}
