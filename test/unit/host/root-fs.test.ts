import { mkdtemp, mkdir, readdir, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { KeelError } from '../../../src/errors.js';
import { RootFs } from '../../../src/host/root-fs.js';
import { mkCharDevice, mkfifo } from './special-files.js';

let base: string;
let root: string;
let fs: RootFs;
const owner = { mode: 0o644, uid: 0, gid: 0 };

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'keel-rootfs-'));
  root = join(base, 'root');
  await mkdir(join(root, 'etc'), { recursive: true });
  await mkdir(join(base, 'outside'));
  fs = new RootFs(root);
});
afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

async function unsafe(p: Promise<unknown>): Promise<string> {
  const error = await p.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(KeelError);
  expect((error as KeelError).kind).toBe('unsafe-path');
  return (error as KeelError).message;
}

describe('resolve', () => {
  test.each([
    ['/etc/hostname', '/etc/hostname'],
    ['/etc/./hostname', '/etc/hostname'],
    ['/etc/../etc/hostname', '/etc/hostname'],
    ['//etc//x/', '/etc/x'],
    ['/', '/'],
  ])('%s → %s', async (path, expected) => {
    expect(await fs.resolve(path)).toBe(expected);
  });

  test.each(['/..', '/../outside/x', '/etc/../../outside/x', '/a/b/../../../x'])('%s climbing above the root is refused', async (path) => {
    expect(await unsafe(fs.resolve(path))).toMatch(/outside the root with '\.\.'/);
  });

  test('a relative path is refused', async () => {
    expect(await unsafe(fs.resolve('etc/x'))).toMatch(/relative/);
  });

  test('an absolute symlink inside the root is resolved inside the root', async () => {
    await mkdir(join(root, 'real'));
    await symlink('/real', join(root, 'etc', 'link'));
    expect(await fs.resolve('/etc/link/file')).toBe('/real/file');
    await fs.writeAtomic('/etc/link/file', Buffer.from('x'), owner);
    expect(await readFile(join(root, 'real', 'file'), 'utf8')).toBe('x');
  });

  test('an absolute symlink to a host path stays in the root (chroot view)', async () => {
    await symlink(join(base, 'outside'), join(root, 'etc', 'host'));
    // The host path is read as a path inside the root, where it does not exist: created there.
    await fs.writeAtomic('/etc/host/file', Buffer.from('x'), owner);
    expect(await readdir(join(base, 'outside'))).toEqual([]);
    expect(await readFile(join(root, base.slice(1), 'outside', 'file'), 'utf8')).toBe('x');
  });

  test('a relative symlink pointing outside the root is refused', async () => {
    await symlink('../../outside', join(root, 'etc', 'out'));
    expect(await unsafe(fs.writeAtomic('/etc/out/file', Buffer.from('x'), owner))).toMatch(/through the symlink \/etc\/out -> \.\.\/\.\.\/outside/);
    expect(await readdir(join(base, 'outside'))).toEqual([]);
  });

  test('a symlink loop is refused', async () => {
    await symlink('/etc/b', join(root, 'etc', 'a'));
    await symlink('/etc/a', join(root, 'etc', 'b'));
    expect(await unsafe(fs.resolve('/etc/a/x'))).toMatch(/more than 40 symlinks/);
  });

  test('a self-referencing link is refused', async () => {
    await symlink('.', join(root, 'etc', 'self'));
    await symlink('self/loop', join(root, 'etc', 'loop'));
    expect(await unsafe(fs.resolve('/etc/loop/x'))).toMatch(/symlinks/);
  });
});

describe('writes', () => {
  test('an atomic write leaves no temp files and sets mode and owner', async () => {
    await fs.writeAtomic('/etc/deep/dir/file', Buffer.from('hello'), { mode: 0o600, uid: 1000, gid: 1001 });
    const st = await stat(join(root, 'etc/deep/dir/file'));
    expect(st.mode & 0o7777).toBe(0o600);
    expect([st.uid, st.gid]).toEqual([1000, 1001]);
    expect(await readdir(join(root, 'etc/deep/dir'))).toEqual(['file']);
    expect((await stat(join(root, 'etc/deep'))).mode & 0o7777).toBe(0o755);
  });

  test('overwriting replaces the content whole and leaves no temp file', async () => {
    await fs.writeAtomic('/etc/f', Buffer.from('one'), owner);
    await fs.writeAtomic('/etc/f', Buffer.from('two'), owner);
    expect(await readFile(join(root, 'etc/f'), 'utf8')).toBe('two');
    expect((await readdir(join(root, 'etc'))).filter((n) => n.includes('keel'))).toEqual([]);
  });

  test('a final symlink is replaced, not written through', async () => {
    await writeFile(join(base, 'outside', 'target'), 'keep');
    await symlink(join(base, 'outside', 'target'), join(root, 'etc', 'resolv.conf'));
    await fs.writeAtomic('/etc/resolv.conf', Buffer.from('nameserver 1.1.1.1\n'), owner);
    expect(await readFile(join(base, 'outside', 'target'), 'utf8')).toBe('keep');
    expect(await readFile(join(root, 'etc/resolv.conf'), 'utf8')).toBe('nameserver 1.1.1.1\n');
  });

  test('a write onto a directory fails and leaves no temp file', async () => {
    await mkdir(join(root, 'etc', 'd'));
    await expect(fs.writeAtomic('/etc/d', Buffer.from('x'), owner)).rejects.toThrow(/is a directory/);
    expect(await readdir(join(root, 'etc'))).toEqual(['d']);
  });

  test('writing the root itself is refused', async () => {
    await unsafe(fs.writeAtomic('/', Buffer.from('x'), owner));
  });

  test('symlinkAtomic creates and replaces links', async () => {
    await fs.symlinkAtomic('/etc/localtime', '/usr/share/zoneinfo/UTC');
    await fs.symlinkAtomic('/etc/localtime', '/usr/share/zoneinfo/Europe/Berlin');
    expect(await readlink(join(root, 'etc/localtime'))).toBe('/usr/share/zoneinfo/Europe/Berlin');
    expect(await readdir(join(root, 'etc'))).toEqual(['localtime']);
  });

  test('read follows links inside the root and returns undefined when missing', async () => {
    await writeFile(join(root, 'etc', 'real'), 'data');
    await symlink('real', join(root, 'etc', 'alias'));
    expect((await fs.read('/etc/alias'))?.toString()).toBe('data');
    expect(await fs.read('/etc/missing')).toBeUndefined();
  });
});

describe('reads take regular files only (a hostile root)', () => {
  // Before: a FIFO at /etc/passwd blocked the read forever; /dev/zero streamed until memory ran out.
  test('a FIFO is refused at once, by its path in the root', async () => {
    mkfifo(join(root, 'etc', 'passwd'));
    const error = await fs.read('/etc/passwd').then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(KeelError);
    expect((error as Error).message).toBe('/etc/passwd is a FIFO (named pipe); expected a regular file; refusing to read it');
  });

  test('a character device reached through a link inside the root is refused, naming where the link led', async () => {
    await mkdir(join(root, 'dev'));
    mkCharDevice(join(root, 'dev', 'zero'));
    await symlink('/dev/zero', join(root, 'etc', 'log'));
    expect(await unsafe(fs.read('/etc/log'))).toBe('/dev/zero is a character device; expected a regular file; refusing to read it');
  });

  test('a file over the bound is refused', async () => {
    await writeFile(join(root, 'etc', 'f'), '123456');
    expect(await unsafe(fs.read('/etc/f', 5))).toMatch(/^\/etc\/f is 6 bytes; expected at most 5 bytes/);
  });
});

describe('inspect: what would stop a later use, without changing anything', () => {
  beforeEach(async () => {
    mkfifo(join(root, 'etc', 'fifo'));
    await writeFile(join(root, 'etc', 'file'), 'x');
    await mkdir(join(root, 'etc', 'dir'));
    await symlink('/etc/fifo', join(root, 'etc', 'to-fifo'));
    await symlink('/etc/dir', join(root, 'etc', 'to-dir'));
  });

  test.each([
    ['/etc/new/deeper/f', 'replace', undefined],
    ['/etc/file', 'replace', undefined],
    ['/etc/fifo', 'replace', undefined],
    ['/etc/to-fifo', 'replace', undefined],
    ['/etc/dir', 'replace', '/etc/dir is a directory; expected a file, a link or nothing there'],
    ['/etc/file/x', 'replace', '/etc/file is a regular file; expected a directory on the way to /etc/file/x'],
    ['/etc/fifo/x', 'replace', '/etc/fifo is a FIFO (named pipe); expected a directory on the way to /etc/fifo/x'],
    ['/etc/to-dir/x', 'replace', undefined],
    ['/etc/file', 'read', undefined],
    ['/etc/missing', 'read', undefined],
    ['/etc/fifo', 'read', '/etc/fifo is a FIFO (named pipe); expected a regular file'],
    ['/etc/to-fifo', 'read', '/etc/fifo is a FIFO (named pipe); expected a regular file'],
    ['/etc/dir', 'read', '/etc/dir is a directory; expected a regular file'],
    ['/etc/to-dir', 'directory', undefined],
    ['/etc/dir/a/b', 'directory', undefined],
    ['/etc/fifo', 'directory', '/etc/fifo is a FIFO (named pipe); expected a directory'],
    ['/etc/file/a', 'directory', '/etc/file is a regular file; expected a directory on the way to /etc/file/a'],
    ['/etc/dir', 'own-directory', undefined],
    ['/etc/to-dir', 'own-directory', '/etc/to-dir is a symlink; expected a directory (keel does not follow a link here)'],
    ['/etc/file', 'replace-plain', undefined],
    ['/etc/to-fifo', 'replace-plain', undefined],
    ['/etc/fifo', 'replace-plain', '/etc/fifo is a FIFO (named pipe); expected a regular file'],
  ] as const)('%s for %s: %s', async (path, use, problem) => {
    const before = await readdir(join(root, 'etc'));
    expect((await fs.inspect(path, use)).problem).toBe(problem);
    expect(await readdir(join(root, 'etc'))).toEqual(before);
  });

  test('a path through a link that climbs out throws unsafe-path', async () => {
    await symlink('../../outside', join(root, 'etc', 'out'));
    expect(await unsafe(fs.inspect('/etc/out/x', 'replace'))).toMatch(/leads outside the root through the symlink \/etc\/out/);
  });
});
