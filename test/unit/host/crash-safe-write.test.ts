import { constants } from 'node:fs';
import { mkdtemp, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { type CrashSafeIo, nodeIo, renameCrashSafe, symlinkCrashSafe, syncDirectory, type WritableHandle, writeFileCrashSafe } from '../../../src/host/crash-safe-write.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'keel-crash-safe-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The real system calls, recorded in order (temp names shown as TMP), with one call made to fail. */
function recordingIo(failAt?: string): { io: CrashSafeIo; calls: string[] } {
  const calls: string[] = [];
  const name = (p: string) => (basename(p).includes('.keel-') ? 'TMP' : p === dir ? 'DIR' : basename(p));
  const step = async <T>(call: string, run: () => Promise<T>): Promise<T> => {
    calls.push(call);
    if (call === failAt) throw Object.assign(new Error(`injected failure at ${call}`), { code: 'EIO' });
    return run();
  };
  const io: CrashSafeIo = {
    async open(path, flags, mode) {
      const what = `open ${name(path)}${flags & constants.O_EXCL ? ' excl' : ''}${flags & constants.O_NOFOLLOW ? ' nofollow' : ''}${flags & constants.O_DIRECTORY ? ' directory' : ''}`;
      const real = await step(what, () => nodeIo.open(path, flags, mode));
      const on = name(path);
      const handle: WritableHandle = {
        writeFile: (data) => step(`write ${on}`, () => real.writeFile(data)),
        chown: (uid, gid) => step(`chown ${on} ${uid}:${gid}`, () => real.chown(uid, gid)),
        chmod: (mode) => step(`chmod ${on} ${mode.toString(8)}`, () => real.chmod(mode)),
        sync: () => step(`fsync ${on}`, () => real.sync()),
        close: () => step(`close ${on}`, () => real.close()),
      };
      return handle;
    },
    rename: (from, to) => step(`rename ${name(from)} ${name(to)}`, () => nodeIo.rename(from, to)),
    symlink: (target, path) => step(`symlink ${name(path)} -> ${target}`, () => nodeIo.symlink(target, path)),
    unlink: (path) => step(`unlink ${name(path)}`, () => nodeIo.unlink(path)),
  };
  return { io, calls };
}

describe('writeFileCrashSafe', () => {
  test('writes the bytes with mode and owner, leaving only the file', async () => {
    const path = join(dir, 'conf');
    await writeFileCrashSafe(path, Buffer.from('hello\n'), { mode: 0o640, uid: 1000, gid: 1001 });
    const st = await stat(path);
    expect([st.mode & 0o7777, st.uid, st.gid]).toEqual([0o640, 1000, 1001]);
    expect(await readFile(path, 'utf8')).toBe('hello\n');
    expect(await readdir(dir)).toEqual(['conf']);
  });

  test('the order on disk: new temp (O_EXCL, no link followed), bytes, owner, mode, fsync, rename, fsync of the file under its new name (FAT), then of the directory', async () => {
    const { io, calls } = recordingIo();
    await writeFileCrashSafe(join(dir, 'conf'), Buffer.from('x'), { mode: 0o600, uid: 0, gid: 0, io });
    expect(calls).toEqual(['open TMP excl nofollow', 'write TMP', 'chown TMP 0:0', 'chmod TMP 600', 'fsync TMP', 'close TMP', 'rename TMP conf', 'open conf nofollow', 'fsync conf', 'close conf', 'open DIR directory', 'fsync DIR', 'close DIR']);
  });

  test('without an owner it does not chown, and the mode defaults to 0644', async () => {
    const { io, calls } = recordingIo();
    await writeFileCrashSafe(join(dir, 'conf'), Buffer.from('x'), { io });
    expect(calls.filter((c) => c.startsWith('chown'))).toEqual([]);
    expect((await stat(join(dir, 'conf'))).mode & 0o777).toBe(0o644);
  });

  test.each(['write TMP', 'chown TMP 0:0', 'chmod TMP 644', 'fsync TMP', 'rename TMP conf'])('a failure at %s throws, keeps the old file and leaves no temp file', async (failAt) => {
    const path = join(dir, 'conf');
    await writeFile(path, 'old');
    const { io, calls } = recordingIo(failAt);
    await expect(writeFileCrashSafe(path, Buffer.from('new'), { mode: 0o644, uid: 0, gid: 0, io })).rejects.toThrow(`injected failure at ${failAt}`);
    expect(await readFile(path, 'utf8')).toBe('old');
    expect(await readdir(dir)).toEqual(['conf']);
    expect(calls).toContain('close TMP');
    expect(calls.at(-1)).toBe('unlink TMP');
  });

  test('a failing fsync of the renamed file is reported (the new file is in place, but not yet known to be durable)', async () => {
    const { io } = recordingIo('fsync conf');
    await expect(writeFileCrashSafe(join(dir, 'conf'), Buffer.from('new'), { io })).rejects.toThrow('injected failure at fsync conf');
    expect(await readFile(join(dir, 'conf'), 'utf8')).toBe('new');
  });

  test('a failing directory fsync is reported (the new file is in place, but not yet known to be durable)', async () => {
    const { io } = recordingIo('fsync DIR');
    await expect(writeFileCrashSafe(join(dir, 'conf'), Buffer.from('new'), { io })).rejects.toThrow('injected failure at fsync DIR');
    expect(await readdir(dir)).toEqual(['conf']);
  });

  test('a 255-byte name still gets a temp name the filesystem accepts', async () => {
    const name = 'n'.repeat(255);
    await writeFileCrashSafe(join(dir, name), Buffer.from('x'));
    expect(await readdir(dir)).toEqual([name]);
  });

  test('a symlink at the path is replaced, not written through', async () => {
    await writeFile(join(dir, 'target'), 'keep');
    await symlinkCrashSafe(join(dir, 'conf'), 'target');
    await writeFileCrashSafe(join(dir, 'conf'), Buffer.from('new'));
    expect(await readFile(join(dir, 'target'), 'utf8')).toBe('keep');
    expect(await readFile(join(dir, 'conf'), 'utf8')).toBe('new');
  });
});

describe('renameCrashSafe', () => {
  test('renames, then fsyncs the file under its new name (FAT), then the directory', async () => {
    await writeFile(join(dir, 'entry+3.conf'), 'title keel\n');
    const { io, calls } = recordingIo();
    await renameCrashSafe(join(dir, 'entry+3.conf'), join(dir, 'entry+3-0.conf'), io);
    expect(calls).toEqual(['rename entry+3.conf entry+3-0.conf', 'open entry+3-0.conf nofollow', 'fsync entry+3-0.conf', 'close entry+3-0.conf', 'open DIR directory', 'fsync DIR', 'close DIR']);
    expect(await readdir(dir)).toEqual(['entry+3-0.conf']);
  });
});

describe('symlinkCrashSafe', () => {
  test('creates and replaces a link, then fsyncs the directory', async () => {
    const { io, calls } = recordingIo();
    await symlinkCrashSafe(join(dir, 'localtime'), '/usr/share/zoneinfo/UTC', { io });
    await symlinkCrashSafe(join(dir, 'localtime'), '/usr/share/zoneinfo/Europe/Berlin');
    expect(await readlink(join(dir, 'localtime'))).toBe('/usr/share/zoneinfo/Europe/Berlin');
    expect(calls).toEqual(['symlink TMP -> /usr/share/zoneinfo/UTC', 'rename TMP localtime', 'open DIR directory', 'fsync DIR', 'close DIR']);
    expect(await readdir(dir)).toEqual(['localtime']);
  });

  test('a failed rename leaves no temp link', async () => {
    const { io } = recordingIo('rename TMP localtime');
    await expect(symlinkCrashSafe(join(dir, 'localtime'), '/x', { io })).rejects.toThrow('injected failure');
    expect(await readdir(dir)).toEqual([]);
  });
});

test('syncDirectory refuses a file (O_DIRECTORY)', async () => {
  await writeFile(join(dir, 'f'), '');
  await expect(syncDirectory(join(dir, 'f'))).rejects.toThrow(/ENOTDIR/);
});
