/**
 * The filesystem under a root directory, an edge. Every path is resolved inside the root
 * with symlinks followed *inside* it (an absolute link target starts again at the root,
 * as under chroot); a `..` or a relative link that would climb above the root, and link
 * loops, are refused with KeelError 'unsafe-path' instead of being clamped, so a hostile
 * config or a hostile tree is reported, not silently redirected.
 *
 * Writes are atomic per file: a temp file in the same directory, fsync, rename, then
 * fsync of the directory, so a crash leaves either the old file or the new one.
 * (The root is assumed not to change under us while we apply: resolution and use are
 * separate system calls.)
 */
import { constants } from 'node:fs';
import { lstat, mkdir, open, readFile, readlink, rename, rm, symlink, chown, chmod, readdir } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { posix, resolve as resolveHostPath } from 'node:path';
import { KeelError } from '../errors.js';

/** Linux gives up after 40 links in one lookup; so do we. */
const maxLinkHops = 40;

/** Owner and mode of a written file or directory. */
export interface Ownership {
  mode: number;
  uid: number;
  gid: number;
}

/** What is at a path: a file, directory, symlink (with its target) or something else. */
export type Entry =
  | { type: 'file'; mode: number; uid: number; gid: number; size: number }
  | { type: 'dir'; mode: number; uid: number; gid: number }
  | { type: 'symlink'; target: string; uid: number; gid: number }
  | { type: 'other' };

function isErrno(error: unknown, code: string): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === code;
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

  /** Reads a file (following symlinks inside the root); undefined when it does not exist. */
  async read(path: string): Promise<Buffer | undefined> {
    const inRoot = await this.resolve(path, true);
    try {
      return await readFile(this.hostPath(inRoot));
    } catch (error) {
      if (isErrno(error, 'ENOENT') || isErrno(error, 'ENOTDIR')) return undefined;
      throw error;
    }
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
   * Writes `content` to `path` atomically with the given mode and owner. A symlink at the
   * final component is replaced, not written through. Parent directories are created 0755 root.
   */
  async writeAtomic(path: string, content: Uint8Array, owner: Ownership): Promise<string> {
    const { dir, name, inRoot } = await this.resolveForWrite(path);
    const realDir = await this.mkdirp(dir);
    const existing = await this.entry(inRoot);
    if (existing?.type === 'dir') throw new KeelError('io', `${inRoot} is a directory; expected a file or nothing there; stopping`);
    const tmp = this.hostPath(`${realDir === '/' ? '' : realDir}/.${name}.keel-${randomBytes(6).toString('hex')}.tmp`);
    const handle = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    try {
      await handle.writeFile(content);
      await handle.chown(owner.uid, owner.gid);
      await handle.chmod(owner.mode);
      await handle.sync();
    } catch (error) {
      await handle.close();
      await rm(tmp, { force: true });
      throw error;
    }
    await handle.close();
    try {
      await rename(tmp, this.hostPath(inRoot));
    } catch (error) {
      await rm(tmp, { force: true });
      throw error;
    }
    await this.syncDir(realDir);
    return inRoot;
  }

  /** Creates or replaces a symlink at `path` pointing at `target` (stored as given), atomically. */
  async symlinkAtomic(path: string, target: string): Promise<string> {
    const { dir, name, inRoot } = await this.resolveForWrite(path);
    const realDir = await this.mkdirp(dir);
    const existing = await this.entry(inRoot);
    if (existing?.type === 'dir') throw new KeelError('io', `${inRoot} is a directory; expected a link, a file or nothing there; stopping`);
    if (existing?.type === 'symlink' && existing.target === target) return inRoot;
    const tmp = this.hostPath(`${realDir === '/' ? '' : realDir}/.${name}.keel-${randomBytes(6).toString('hex')}.tmp`);
    await symlink(target, tmp);
    try {
      await rename(tmp, this.hostPath(inRoot));
    } catch (error) {
      await rm(tmp, { force: true });
      throw error;
    }
    await this.syncDir(realDir);
    return inRoot;
  }

  /** Sets owner and mode of an existing file or directory (following links inside the root). */
  async setOwnership(path: string, owner: Ownership): Promise<void> {
    const host = this.hostPath(await this.resolve(path, true));
    await chown(host, owner.uid, owner.gid);
    await chmod(host, owner.mode);
  }

  private async syncDir(inRootDir: string): Promise<void> {
    const handle = await open(this.hostPath(inRootDir) || '/', constants.O_RDONLY | constants.O_DIRECTORY);
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
}
