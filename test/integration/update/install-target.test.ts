import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { cp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa, execaSync } from 'execa';
import { makeBundle, makeKey, publish, tempDir } from '../../unit/update/fixture.js';

// `./bin/keel update install` and `publish` against real block devices (loop devices) and a
// real full filesystem (a 1 MiB tmpfs in a private mount namespace): each failure is one line
// with the path, exit 1, no partial file left, and a block device that fails verification is
// reported as holding unverified bytes (it cannot be "discarded"). Needs root, as install.test.ts.
const keel = join(process.cwd(), 'bin/keel');
const key = makeKey();
const loops: string[] = [];
let work: string;
let image: Buffer;

function loopOf(file: string, readOnly = false): string {
  const dev = execaSync('losetup', ['--find', '--show', ...(readOnly ? ['--read-only'] : []), file]).stdout.trim();
  loops.push(dev);
  return dev;
}

async function install(repo: string, target: string, state = `state-${Math.random()}`) {
  return execa(keel, ['update', 'install', '--repo', repo, '--target', target, '--trust', join(work, 'trust.pub'), '--state', join(work, state), '--root', work], { reject: false });
}

/** Runs a shell command with DIR a fresh 1 MiB tmpfs, visible to this command only. */
function withTinyFs(dir: string, command: string) {
  return execa('unshare', ['-m', 'sh', '-c', `mount -t tmpfs -o size=1m keel-test "${dir}" && ${command}`], { reject: false });
}

beforeAll(async () => {
  work = await tempDir('keel-target-');
  image = await publish(join(work, 'good'), work, key.signer, '1.0.0', { size: 3_000_000 });
  await writeFile(join(work, 'trust.pub'), key.publicPem);
  await cp(join(work, 'good'), join(work, 'tampered'), { recursive: true });
  const slot = join(work, 'tampered/targets/stable/1.0.0/root.img');
  const bytes = await readFile(slot);
  bytes[2_000_000] = bytes[2_000_000]! ^ 1;
  await writeFile(slot, bytes);
});

afterAll(async () => {
  for (const l of loops.splice(0)) execaSync('losetup', ['-d', l], { reject: false });
  await rm(work, { recursive: true, force: true });
});

describe('block device targets', () => {
  test('a good release is written into a loop device byte-exactly', async () => {
    await writeFile(join(work, 'good.disk'), Buffer.alloc(4 << 20));
    const dev = loopOf(join(work, 'good.disk'));
    const run = await install(join(work, 'good'), dev);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(Buffer.compare((await readFile(join(work, 'good.disk'))).subarray(0, image.length), image)).toBe(0);
  });

  test('a tampered payload on a block device: said to hold unverified bytes, not "discarded"; no record left', async () => {
    await writeFile(join(work, 'bad.disk'), Buffer.alloc(4 << 20));
    const dev = loopOf(join(work, 'bad.disk'));
    const run = await install(join(work, 'tampered'), dev, 'state-bad');
    expect(run.exitCode).toBe(1);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(new RegExp(`does not match the signed .* \\(tampered\\); ${dev} now holds up to 3000000 unverified bytes of 1\\.0\\.0: it is not made bootable and no boot entry points at it; nothing installed`));
    expect(run.stderr).not.toMatch(/discarded/);
    expect(await readdir(join(work, 'state-bad'))).not.toContain('1.0.0.pending');
    expect((await readdir(join(work, 'state-bad'))).filter((n) => n.startsWith('1.0.0'))).toEqual([]);
  });

  test('a device that fails mid-write (a loop device over a full tmpfs): EIO with the device named, no record', async () => {
    await mkdir(join(work, 'tiny-disk'));
    const script = `truncate -s 4M "${join(work, 'tiny-disk/disk')}" && dev=$(losetup --find --show "${join(work, 'tiny-disk/disk')}") && echo "$dev" && "${keel}" update install --repo "${join(work, 'good')}" --target "$dev" --trust "${join(work, 'trust.pub')}" --state "${join(work, 'state-eio')}" --root "${work}"; rc=$?; losetup -d "$dev"; exit $rc`;
    const run = await withTinyFs(join(work, 'tiny-disk'), script);
    const dev = run.stdout.trim();
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(new RegExp(`^keel: ${dev}: cannot (write|flush): the device reported an input/output error \\(EIO\\); check the device \\(dmesg\\) before using it again; ${dev} now holds up to \\d+ unverified bytes of 1\\.0\\.0: it is not made bootable and no boot entry points at it; nothing installed$`));
    expect((await readdir(join(work, 'state-eio'))).filter((n) => n.startsWith('1.0.0'))).toEqual([]);
  });

  test('a read-only device is refused before anything is fetched', async () => {
    await writeFile(join(work, 'ro.disk'), Buffer.alloc(4 << 20));
    const dev = loopOf(join(work, 'ro.disk'), true);
    const run = await install('http://127.0.0.1:9/', dev);
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toBe(`keel: ${dev}: the block device is read-only; make it writable (blockdev --setrw) or choose another; nothing downloaded`);
  });

  test('a device smaller than the image is refused before the payload is downloaded', async () => {
    await writeFile(join(work, 'small.disk'), Buffer.alloc(1 << 20));
    const dev = loopOf(join(work, 'small.disk'));
    const run = await install(join(work, 'good'), dev);
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(new RegExp(`^keel: ${dev}: the device holds 1048576 bytes, smaller than the 3000000-byte slot image; nothing downloaded$`));
    expect((await readFile(join(work, 'small.disk'))).every((b) => b === 0)).toBe(true);
  });
});

describe('file targets', () => {
  test('a directory target is refused before anything is fetched; no DIR.keel-partial', async () => {
    await mkdir(join(work, 'dir'));
    const run = await install('http://127.0.0.1:9/', join(work, 'dir'));
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toBe(`keel: ${join(work, 'dir')}: is a directory; expected a slot image file path (which may not exist yet) or a block device; nothing downloaded`);
    expect(await readdir(work)).not.toContain('dir.keel-partial');
  });

  test('a directory without room for the image is refused before the payload is downloaded; no partial', async () => {
    await mkdir(join(work, 'tiny'));
    const target = join(work, 'tiny/slot.img');
    const run = await withTinyFs(join(work, 'tiny'), `"${keel}" update install --repo "${join(work, 'good')}" --target "${target}" --trust "${join(work, 'trust.pub')}" --state "${join(work, 'state-tiny')}" --root "${work}"; rc=$?; ls -A "${join(work, 'tiny')}"; exit $rc`);
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(/^keel: .*\/tiny: \d+ bytes free, the 3000000-byte slot image does not fit; free space there and run again; nothing downloaded$/);
    expect(run.stdout).toBe(''); // nothing in the directory
  });
});

describe('publish on a full filesystem', () => {
  test('ENOSPC names the file and the next step, exits 1, and leaves no temp file', async () => {
    const bundle = await makeBundle(work, '2.0.0', 3_000_000);
    await mkdir(join(work, 'fullrepo'));
    const run = await withTinyFs(join(work, 'fullrepo'), `keygen=$(mktemp -d); "${keel}" update keygen "$keygen/k" >/dev/null && "${keel}" update publish --key "$keygen/k" --bundle "${bundle.dir}" --repo "${join(work, 'fullrepo')}"; rc=$?; find "${join(work, 'fullrepo')}" -name '*.tmp'; exit $rc`);
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(/^keel: .*\/fullrepo\/targets\/stable\/2\.0\.0\/root\.img: cannot write: no space left on the device \(ENOSPC\); free space there and run again; nothing published$/);
    expect(run.stdout).toBe('');
  });
});
