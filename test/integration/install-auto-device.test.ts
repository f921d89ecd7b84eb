// `keel install --device auto` against real loop devices: one with a filesystem, one mounted
// (and holding the image: the installer's own medium), one empty, one that was a RAID member
// (an md superblock at its end, beyond the image: only wipefs clears it). The disk
// survey (sysfs, mountinfo, wipefs) is the real edge, restricted to this test's loop devices so
// the build host's disks (and other tests' loops) are never candidates; the install is the
// real one, in-process, with real wipefs and sgdisk.
import { execa, execaSync } from 'execa';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { KeelError } from '../../src/errors.js';
import { runCommand } from '../../src/host/process.js';
import { readDiskFacts } from '../../src/install/disk-facts.js';
import { install } from '../../src/install/installer.js';
import { attachLoop, readAt } from '../harness/loop-device.js';

const repo = resolve(import.meta.dirname, '../..');
const mib = 1024 * 1024;
let dir: string;
let mnt: string;
let image: string;
const loops: string[] = [];
let withFs: string;
let mounted: string;
let empty: string;
let raid: string;

const loop = (sizeMiB: number, name: string) => attachLoop(dir, sizeMiB, name, loops);

/** A 36 MiB image in keel's layout whose slot A says what it is, with its manifest. */
async function makeImage(path: string): Promise<void> {
  execaSync('truncate', ['-s', `${36 * mib}`, path]);
  await execa('sgdisk', ['-n', '1:1M:+8M', '-t', '1:EF00', '-c', '1:EFI-SYSTEM', '-n', '2:0:+8M', '-c', '2:keel-root-a', '-n', '3:0:+8M', '-c', '3:keel-root-b', '-n', '4:0:+8M', '-c', '4:keel-state', path]);
  const fd = openSync(path, 'r+');
  writeSync(fd, Buffer.from('keel-slot-a auto-device\n'), 0, 24, 9 * mib);
  closeSync(fd);
  writeFileSync(`${path}.json`, execaSync(join(repo, 'images/manifest.sh'), ['disk', '9.9.9-auto', path]).stdout);
}

const logged: string[] = [];
const log = { error: (m: string) => logged.push(m), warning: (m: string) => logged.push(m), notice: (m: string) => logged.push(m), info: (m: string) => logged.push(m), debug() {} };

function env(only: string[], cmdline = 'console=ttyS0 ro') {
  const mountinfo = () => readFileSync('/proc/self/mountinfo', 'utf8');
  const swaps = () => readFileSync('/proc/swaps', 'utf8');
  return {
    log,
    progress() {},
    now: () => Date.now(),
    randomBytes: (n: number) => Buffer.alloc(n, 7),
    readMountinfo: mountinfo,
    readSwaps: swaps,
    run: runCommand,
    cmdline: () => cmdline,
    diskFacts: () => readDiskFacts({ run: runCommand, mountinfo: mountinfo(), swaps: swaps(), medium: [{ path: image, what: `the image ${image}` }], only: only.map((d) => basename(d)) }),
  };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'keel-auto-device-'));
  withFs = loop(64, 'with-fs');
  execaSync('mkfs.ext4', ['-q', '-F', withFs]);
  mounted = loop(64, 'mounted');
  execaSync('mkfs.ext4', ['-q', '-F', mounted]);
  mnt = join(dir, 'mnt');
  mkdirSync(mnt);
  execaSync('mount', [mounted, mnt]);
  // The image lives on the mounted disk: that disk is also the installer's own medium.
  image = join(mnt, 'keel.img');
  await makeImage(image);
  empty = loop(64, 'empty');
  // A former md RAID member: a 0.90 superblock in the last 64 KiB-aligned 64 KiB, far past
  // the image's 36 MiB (this host's kernel parses no partition tables on loop devices, so
  // an old filesystem in a partition cannot stand in for it). mdadm would assemble it again.
  raid = loop(64, 'raid');
  const fd = openSync(raid, 'r+');
  const sb = Buffer.alloc(48);
  [0xa92b4efc, 0, 90, 0, 0, 0x11111111, 0, 1, (64 * mib - 65536) / 1024, 2, 2, 0].forEach((v, i) => sb.writeUInt32LE(v, i * 4));
  writeSync(fd, sb, 0, sb.length, 64 * mib - 65536);
  closeSync(fd);
});

afterAll(() => {
  if (mnt) execaSync('umount', [mnt], { reject: false });
  for (const l of loops) execaSync('losetup', ['-d', l], { reject: false });
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('the survey sees each loop device as it is', async () => {
  const facts = await env([withFs, mounted, empty, raid]).diskFacts();
  const by = Object.fromEntries(facts.map((f) => [f.path, f]));
  expect(Object.keys(by).sort()).toEqual([withFs, mounted, empty, raid].sort());
  expect(by[withFs]).toMatchObject({ signatures: ['ext4'], partitions: [], users: [], sizeBytes: 64 * mib });
  expect(by[mounted]!.users).toEqual([`mounted on ${mnt} (${mounted})`]);
  expect(by[mounted]!.medium).toBe(`holds the image ${image}`);
  expect(by[empty]).toMatchObject({ signatures: [], partitions: [], users: [], removable: false, readOnly: false });
  expect(by[raid]).toMatchObject({ signatures: ['linux_raid_member'], partitions: [] });
});

test('refuses when no disk is blank, listing each with why', async () => {
  const error = await install({ device: 'auto', image }, env([withFs, mounted, raid])).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(KeelError);
  const lines = (error as Error).message.split('\n');
  expect(lines[0]).toBe('--device auto: no blank non-removable disk big enough (37748736 bytes) among 3; name one with keel.install.device= or wipe one; refusing to choose a disk; the disks:');
  expect(lines.slice(1).sort()).toEqual(
    [
      `  ${withFs}  67.1 MB  (no model)  holds data (ext4 signature)`,
      `  ${mounted}  67.1 MB  (no model)  in use: mounted on ${mnt} (${mounted})`,
      `  ${raid}  67.1 MB  (no model)  holds data (linux_raid_member signature)`,
    ].sort(),
  );
  // Nothing was written anywhere.
  expect(execaSync('wipefs', ['--json', withFs]).stdout).toMatch(/"ext4"/);
});

test('picks the only empty disk and installs there', async () => {
  const report = await install({ device: 'auto', image }, env([withFs, mounted, empty, raid]));
  expect(report).toMatchObject({ device: empty, deviceRule: 'only-blank-disk', version: '9.9.9-auto' });
  expect(readAt(empty, 9 * mib, 24).toString()).toBe('keel-slot-a auto-device\n');
  expect(logged.join('\n')).toMatch(new RegExp(`--device auto: ${empty} \\(the only blank non-removable disk\\)`));
  // The others are as they were.
  expect(execaSync('wipefs', ['--json', withFs]).stdout).toMatch(/"ext4"/);
});

test('a disk named on the kernel command line is taken, and its old signatures wiped', async () => {
  const mdMagic = () => readAt(raid, 64 * mib - 65536, 4).toString('hex');
  expect(mdMagic()).toBe('fc4e2ba9');
  const report = await install({ device: 'auto', image }, env([withFs, mounted, empty, raid], `ro keel.install.device=${raid}`));
  expect(report).toMatchObject({ device: raid, deviceRule: 'named' });
  expect(readAt(raid, 9 * mib, 24).toString()).toBe('keel-slot-a auto-device\n');
  // The md superblock beyond the image's end lost its magic to wipefs -a.
  expect(mdMagic()).toBe('00000000');
  expect(execaSync('wipefs', ['--json', raid]).stdout).not.toMatch(/linux_raid_member/);
});

test('a named disk that is mounted is refused', async () => {
  const error = await install({ device: 'auto', image }, env([withFs, mounted, empty], `keel.install.device=${mounted}`)).catch((e: unknown) => e);
  expect((error as Error).message).toMatch(new RegExp(`^--device auto: keel\\.install\\.device=${mounted} names ${mounted}, which cannot take the install: in use: mounted on ${mnt} \\(${mounted}\\); refusing to overwrite it`));
});
