/**
 * The filesystem under a root directory, an edge. Every path is resolved inside the root
 * with symlinks followed *inside* it (an absolute link target starts again at the root,
 * as under chroot); a `..` or a relative link that would climb above the root, and link
 * loops, are refused with KeelError 'unsafe-path' instead of being clamped, so a hostile
 * config or a hostile tree is reported, not silently redirected.
 *
 * Writes go through keel's one crash-safe write (crash-safe-write.ts), so a crash leaves
 * either the old file or the new one. Reads take regular files only, up to a size bound
 * (bounded-read.ts): a FIFO or a device node planted in the root is refused, never read.
 * `inspect` finds, without changing anything, what would stop a later read or write, so
 * the applier can refuse a whole config before writing any of it.
 * (The root is assumed not to change under us while we apply: resolution and use are
 * separate system calls.)
 */
import { type Stats } from 'node:fs';
import { lstat, mkdir, readlink, chown, chmod, readdir } from 'node:fs/promises';
import { posix, resolve as resolveHostPath } from 'node:path';
import { KeelError } from '../errors.js';
import { describeType, readProblem, readRegularFile } from './bounded-read.js';
import { type Ownership, symlinkCrashSafe, writeFileCrashSafe } from './crash-safe-write.js';

export type { Ownership } from './crash-safe-write.js';

/** Linux gives up after 40 links in one lookup; so do we. */
const maxLinkHops = 40;

/** What is at a path: a file, directory, symlink (with its target) or something else. */
export type Entry =
  | { type: 'file'; mode: number; uid: number; gid: number; size: number }
  | { type: 'dir'; mode: number; uid: number; gid: number }
  | { type: 'symlink'; target: string; uid: number; gid: number }
  | { type: 'other' };

function isErrno(error: unknown, code: string): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === code;
}

/**
 * How an operation will use a path, for `inspect`:
 * - `replace`: replaced by a file or link (the last component is not followed); anything
 *   but a directory may be there.
 * - `replace-plain`: the same, but what is there must be a link or a regular file (which
 *   is read first, so within the read bound): the user's authorized_keys.
 * - `read`: read, or appended to (read, then replaced); followed; a regular file within
 *   the read bound, or nothing.
 * - `directory`: made with mkdirp; followed; directories all the way, or nothing.
 * - `own-directory`: a directory keel hands to a user (~/.ssh): not followed, so a real
 *   directory or nothing; a link there could aim keel's chown anywhere in the root.
 */
export type PathUse = 'replace' | 'replace-plain' | 'read' | 'directory' | 'own-directory';

/** Why the existing last component `st` of `inRoot` does not suit `use`, if it does not. */
function lastComponentProblem(st: Stats, inRoot: string, use: PathUse, maxBytes?: number): string | undefined {
  switch (use) {
    case 'read':
      return readProblem(st, inRoot, maxBytes);
    case 'replace-plain':
      return st.isSymbolicLink() ? undefined : readProblem(st, inRoot, maxBytes);
    case 'own-directory':
      return st.isDirectory() ? undefined : `${inRoot} is ${describeType(st)}; expected a directory (keel does not follow a link here)`;
    default:
      return st.isDirectory() ? `${inRoot} is a directory; expected a file, a link or nothing there` : undefined;
  }
}

/** The path as components, refusing relative paths (every path keel writes is absolute). */
function componentsOf(path: string): string[] {
  if (!path.startsWith('/')) throw new KeelError('unsafe-path', `path ${JSON.stringify(path)} is relative; expected an absolute path inside the root; refusing it`);
  if (path.includes('\0')) throw new KeelError('unsafe-path', `path ${JSON.stringify(path)} contains a NUL byte; refusing it`);
  return path.split('/').filter((c) => c !== '' && c !== '.');
}

/** Filesystem operations confined to one root directory. */
export class RootFs {
  /** The root as an absolute host path, without a trailing slash ('' for `/`). */
  readonly root: string;

  constructor(root: string) {
    const abs = resolveHostPath(root);
    this.root = abs === '/' ? '' : abs;
  }

  /** The host path of an already-resolved in-root path. */
  hostPath(inRoot: string): string {
    return `${this.root}${inRoot === '/' ? (this.root === '' ? '/' : '') : inRoot}`;
  }

  /**
   * Resolves `path` (absolute, in the root's view) to the in-root path it really names,
   * following symlinks inside the root. The last component is followed only when
   * `followLast` is set (reads follow; writes replace a link rather than write through it).
   * Missing components are kept lexically.
   */
  async resolve(path: string, followLast = false): Promise<string> {
    let pending = componentsOf(path);
    const done: string[] = [];
    let hops = 0;
    // The last link followed, so that a climb out through a link names it.
    let via: string | undefined;
    while (pending.length > 0) {
      const [head, ...rest] = pending as [string, ...string[]];
      pending = rest;
      if (head === '..') {
        if (done.length === 0) {
          const how = via ? `through the symlink ${via}` : `with '..'`;
          throw new KeelError('unsafe-path', `path ${JSON.stringify(path)} leads outside the root ${how}; refusing it`);
        }
        done.pop();
        continue;
      }
      const candidate = '/' + [...done, head].join('/');
      let target: string | undefined;
      if (pending.length > 0 || followLast) {
        try {
          target = await readlink(this.hostPath(candidate));
        } catch (error) {
          if (!isErrno(error, 'EINVAL') && !isErrno(error, 'ENOENT') && !isErrno(error, 'ENOTDIR')) throw error;
        }
      }
      if (target === undefined) {
        done.push(head);
        continue;
      }
      if (++hops > maxLinkHops) throw new KeelError('unsafe-path', `path ${JSON.stringify(path)} goes through more than ${maxLinkHops} symlinks (a loop at ${candidate}?); refusing it`);
      via = `${candidate} -> ${target}`;
      // An absolute target starts again at the root (chroot view); a relative one from the link's directory.
      if (target.startsWith('/')) done.length = 0;
      pending = [...target.split('/').filter((c) => c !== '' && c !== '.'), ...pending];
    }
    return '/' + done.join('/');
  }

  /** The directory and name a write goes to: parents resolved, the last component kept as is. */
  private async resolveForWrite(path: string): Promise<{ dir: string; name: string; inRoot: string }> {
    const parts = componentsOf(path);
    if (parts.length === 0) throw new KeelError('unsafe-path', `cannot write the root directory itself; refusing it`);
    const inRoot = await this.resolve(path, false);
    if (inRoot === '/') throw new KeelError('unsafe-path', `path ${JSON.stringify(path)} resolves to the root directory itself; refusing it`);
    return { dir: posix.dirname(inRoot), name: posix.basename(inRoot), inRoot };
  }

  /** What is at `path` (not following a final symlink), or undefined. */
  async entry(path: string): Promise<Entry | undefined> {
    const inRoot = await this.resolve(path, false);
    try {
      const st = await lstat(this.hostPath(inRoot));
      if (st.isSymbolicLink()) return { type: 'symlink', target: await readlink(this.hostPath(inRoot)), uid: st.uid, gid: st.gid };
      if (st.isDirectory()) return { type: 'dir', mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
      if (st.isFile()) return { type: 'file', mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, size: st.size };
      return { type: 'other' };
    } catch (error) {
      if (isErrno(error, 'ENOENT') || isErrno(error, 'ENOTDIR')) return undefined;
      throw error;
    }
  }

  /** lstat of an in-root path, undefined when nothing is there. */
  private async lstatOf(inRoot: string): Promise<Stats | undefined> {
    try {
      return await lstat(this.hostPath(inRoot));
    } catch (error) {
      if (isErrno(error, 'ENOENT') || isErrno(error, 'ENOTDIR')) return undefined;
      throw error;
    }
  }

  /**
   * What would stop a later use of `path`, found without changing anything (see PathUse).
   * Every existing component on the way must be a directory. Returns the in-root path and
   * the problem, if any; a path that leaves the root throws KeelError 'unsafe-path'.
   */
  async inspect(path: string, use: PathUse, maxBytes?: number): Promise<{ inRoot: string; problem?: string }> {
    const follows = use === 'read' || use === 'directory';
    const inRoot = follows ? await this.resolve(path, true) : (await this.resolveForWrite(path)).inRoot;
    const parts = inRoot.split('/').filter((c) => c !== '');
    let current = '';
    for (const [i, part] of parts.entries()) {
      current += `/${part}`;
      const st = await this.lstatOf(current);
      // Missing: mkdirp creates it and everything below it.
      if (!st) return { inRoot };
      if (i < parts.length - 1 || use === 'directory') {
        if (!st.isDirectory()) return { inRoot, problem: `${current} is ${describeType(st)}; expected a directory${current === inRoot ? '' : ` on the way to ${inRoot}`}` };
        continue;
      }
      const problem = lastComponentProblem(st, inRoot, use, maxBytes);
      return problem ? { inRoot, problem } : { inRoot };
    }
    return { inRoot };
  }

  /**
   * Reads a regular file (following symlinks inside the root), at most `maxBytes`;
   * undefined when nothing is there. A FIFO, device, socket or directory there, or a
   * larger file, is refused with KeelError 'unsafe-path' naming the in-root path.
   */
  async read(path: string, maxBytes?: number): Promise<Buffer | undefined> {
    const inRoot = await this.resolve(path, true);
    return readRegularFile(this.hostPath(inRoot), inRoot, maxBytes);
  }

  /** Names in a directory (following links), empty when it does not exist. */
  async list(path: string): Promise<string[]> {
    const inRoot = await this.resolve(path, true);
    try {
      return (await readdir(this.hostPath(inRoot))).sort();
    } catch (error) {
      if (isErrno(error, 'ENOENT') || isErrno(error, 'ENOTDIR')) return [];
      throw error;
    }
  }

  /**
   * `mkdir -p` inside the root. Directories it creates get `owner` (default 0755 root);
   * existing ones are left as they are. Returns the resolved in-root path.
   */
  async mkdirp(path: string, owner: Ownership = { mode: 0o755, uid: 0, gid: 0 }): Promise<string> {
    const inRoot = await this.resolve(path, true);
    const parts = inRoot.split('/').filter((c) => c !== '');
    let current = '';
    for (const part of parts) {
      current += `/${part}`;
      // Resolve again: an existing component may itself be a link (followed inside the root).
      const real = await this.resolve(current, true);
      const host = this.hostPath(real);
      try {
        await mkdir(host, { mode: owner.mode });
        await chown(host, owner.uid, owner.gid);
        await chmod(host, owner.mode);
      } catch (error) {
        if (!isErrno(error, 'EEXIST')) throw error;
        const st = await lstat(host);
        if (!st.isDirectory()) throw new KeelError('io', `${real} exists and is not a directory; expected a directory to write into; stopping`);
      }
      current = real;
    }
    return inRoot;
  }

  /**
   * Writes `content` to `path` crash-safely with the given mode and owner. A symlink at the
   * final component is replaced, not written through. Parent directories are created 0755 root.
   */
  async writeAtomic(path: string, content: Uint8Array, owner: Ownership): Promise<string> {
    const { dir, name, inRoot } = await this.resolveForWrite(path);
    const realDir = await this.mkdirp(dir);
    const existing = await this.entry(inRoot);
    if (existing?.type === 'dir') throw new KeelError('io', `${inRoot} is a directory; expected a file or nothing there; stopping`);
    await writeFileCrashSafe(this.hostPath(posix.join(realDir, name)), content, owner);
    return inRoot;
  }

  /** Creates or replaces a symlink at `path` pointing at `target` (stored as given), crash-safely. */
  async symlinkAtomic(path: string, target: string): Promise<string> {
    const { dir, name, inRoot } = await this.resolveForWrite(path);
    const realDir = await this.mkdirp(dir);
    const existing = await this.entry(inRoot);
    if (existing?.type === 'dir') throw new KeelError('io', `${inRoot} is a directory; expected a link, a file or nothing there; stopping`);
    if (existing?.type === 'symlink' && existing.target === target) return inRoot;
    await symlinkCrashSafe(this.hostPath(posix.join(realDir, name)), target);
    return inRoot;
  }

  /** Sets owner and mode of an existing file or directory (following links inside the root). */
  async setOwnership(path: string, owner: Ownership): Promise<void> {
    const host = this.hostPath(await this.resolve(path, true));
    await chown(host, owner.uid, owner.gid);
    await chmod(host, owner.mode);
  }
}
