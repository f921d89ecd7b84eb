// keel-cloudinit's later-boot check (images/rootfs/usr/lib/keel/keel-cloudinit-check), the sh
// that decides whether a boot starts keel at all: run for real under a fake root, with blkid,
// blockdev, mount and umount replaced by scripts that serve seed "devices" from plain files
// (a device FILE is mounted by copying FILE.d/). Exit 0 = run keel, 1 = skip the unit.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, expect, test } from 'vitest';

const script = join(import.meta.dirname, '../../../images/rootfs/usr/lib/keel/keel-cloudinit-check');
let root: string;
let bin: string;

/** The fake tools: blkid -o export lists the device named in each ROOT/labels/LABEL. */
function fakeTools(): void {
  const tools: Record<string, string> = {
    blkid: `#!/bin/sh\necho DEVNAME=/dev/vda1; echo LABEL=keel-state; echo\nfor f in "$KEEL_CHECK_ROOT"/labels/*; do [ -f "$f" ] && printf 'DEVNAME=%s\\nTYPE=iso9660\\nLABEL=%s\\n\\n' "$(cat "$f")" "\${f##*/}"; done\nexit 0\n`,
    mount: `#!/bin/sh\nfor a; do dev=$target; target=$a; done\n[ -d "$dev.d" ] || exit 32\ncp -r "$dev.d/." "$target/"\n`,
    umount: `#!/bin/sh\nrm -rf "$1"/* && exit 0\n`,
  };
  for (const [name, text] of Object.entries(tools)) {
    writeFileSync(join(bin, name), text);
    chmodSync(join(bin, name), 0o755);
  }
}

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'keel-check-'));
  bin = join(root, 'bin');
  for (const d of ['bin', 'proc', 'labels', 'dev', 'var/lib/keel/cloud-config/instances']) mkdirSync(join(root, d), { recursive: true });
  writeFileSync(join(root, 'proc/cmdline'), 'BOOT_IMAGE=/vmlinuz keel.slot=a console=ttyS0\n');
  fakeTools();
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** A seed device labelled `label` holding `files` (its bytes are the files' text). */
function seed(label: string, files: Record<string, string | Buffer>, name = label): string {
  const dev = join(root, 'dev', name);
  mkdirSync(`${dev}.d`, { recursive: true });
  for (const [f, text] of Object.entries(files)) writeFileSync(join(`${dev}.d`, f), text);
  writeFileSync(dev, Buffer.concat(Object.entries(files).map(([f, body]) => Buffer.concat([Buffer.from(f), Buffer.from(body)]))));
  writeFileSync(join(root, 'labels', label), dev);
  // The size as sysfs gives it, in 512-byte sectors.
  mkdirSync(join(root, 'sys/class/block', name), { recursive: true });
  writeFileSync(join(root, 'sys/class/block', name, 'size'), `${Math.ceil(readFileSync(dev).length / 512)}\n`);
  return dev;
}

function check(mode: 'condition' | 'record', env: Record<string, string> = {}) {
  const r = spawnSync('/bin/sh', [script, mode], { encoding: 'utf8', env: { PATH: `${bin}:/usr/bin:/bin`, KEEL_CHECK_ROOT: root, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * What keel does on a first apply: write the instance's record, after the condition's
 * snapshot (a second later, as node's start-up makes it); earlier records are older.
 */
function keelApplies(id = 'iid-1'): void {
  const dir = join(root, 'var/lib/keel/cloud-config/instances');
  for (const f of readdirSync(dir)) utimesSync(join(dir, f), new Date(0), new Date(0));
  const record = join(dir, `${id}.json`);
  writeFileSync(record, '{}\n');
  const snapshot = join(root, 'run/keel/cloudinit-check.seed');
  const later = new Date((existsSync(snapshot) ? statSync(snapshot).mtimeMs : Date.now()) + 1000);
  utimesSync(record, later, later);
}

/** A whole first boot: condition, keel's apply, record. Returns the condition's exit code. */
function firstBoot(id = 'iid-1'): number | null {
  const c = check('condition').code;
  keelApplies(id);
  expect(check('record').code).toBe(0);
  return c;
}

const marker = () => join(root, 'var/lib/keel/cloud-config/later-boot-check');
const plainSeed = { 'meta-data': 'instance-id: iid-1\n', 'user-data': '#cloud-config\nhostname: a\nruncmd:\n  - echo hi\n' };

test('first boot runs keel; a later boot with the same seed skips it, saying why', () => {
  seed('cidata', plainSeed);
  expect(firstBoot()).toBe(0);
  expect(existsSync(marker())).toBe(true);
  const later = check('condition');
  expect(later.code).toBe(1);
  expect(later.stdout).toMatch(/instance already applied/);
});

test.each([
  ['the seed bytes change (a new instance id)', () => seed('cidata', { ...plainSeed, 'meta-data': 'instance-id: iid-2\n' })],
  ['another seed disk appears', () => seed('config-2', { 'meta_data.json': '{"uuid":"x"}' })],
  ['the seed moves to another device', () => { rmSync(join(root, 'labels/cidata')); seed('CIDATA', plainSeed, 'sdb'); }],
  ['the seed disk is gone', () => rmSync(join(root, 'labels/cidata'))],
  ['the command line names a datasource', () => writeFileSync(join(root, 'proc/cmdline'), 'console=ttyS0 ds=nocloud;s=http://10.0.2.2/\n')],
  ['the command line names a cloud-config-url', () => writeFileSync(join(root, 'proc/cmdline'), 'cloud-config-url=http://x/ y\n')],
  ['the marker is gone (a fresh state partition)', () => rmSync(marker())],
])('a later boot runs keel when %s', (_what, change) => {
  seed('cidata', plainSeed);
  firstBoot();
  change();
  expect(check('condition').code).toBe(0);
});

test.each([
  ['bootcmd', { 'user-data': '#cloud-config\nbootcmd:\n  - echo every boot\n' }],
  ['a gzip user-data', { 'user-data': gzipSync('#cloud-config\nhostname: a\n') }],
  ['a base64 multipart part', { 'user-data': 'Content-Type: multipart/mixed\nContent-Transfer-Encoding: base64\n' }],
  ['an #include', { 'user-data': '#include\nhttp://x/\n' }],
])('a seed with %s runs keel on every boot (no marker)', (_what, files) => {
  seed('cidata', { 'meta-data': 'instance-id: iid-1\n', ...files });
  firstBoot();
  expect(existsSync(marker())).toBe(false);
  expect(check('condition').code).toBe(0);
});

test('no marker when keel wrote no instance record in this run (no seed read, or applied before)', () => {
  seed('cidata', plainSeed);
  expect(check('condition').code).toBe(0);
  expect(check('record').code).toBe(0);
  expect(existsSync(marker())).toBe(false);
});

test('no marker when the seed changed while keel ran, or cannot be mounted, or is too big, or is absent', () => {
  const dev = seed('cidata', plainSeed);
  check('condition');
  keelApplies();
  writeFileSync(dev, 'changed');
  check('record');
  expect(existsSync(marker())).toBe(false);

  seed('cidata', plainSeed);
  rmSync(`${dev}.d`, { recursive: true });
  firstBoot();
  expect(existsSync(marker())).toBe(false);

  seed('cidata', plainSeed);
  check('condition', { KEEL_CHECK_MAX_BYTES: '10' });
  keelApplies();
  check('record', { KEEL_CHECK_MAX_BYTES: '10' });
  expect(existsSync(marker())).toBe(false);

  rmSync(join(root, 'labels/cidata'));
  expect(firstBoot()).toBe(0);
  expect(existsSync(marker())).toBe(false);
});

test('a new seed applied over a marked instance replaces the marker; one with bootcmd removes it', () => {
  seed('cidata', plainSeed);
  firstBoot();
  const first = readFileSync(marker(), 'utf8');
  seed('cidata', { ...plainSeed, 'meta-data': 'instance-id: iid-2\n' });
  expect(firstBoot('iid-2')).toBe(0);
  expect(readFileSync(marker(), 'utf8')).not.toBe(first);
  expect(check('condition').code).toBe(1);
  seed('cidata', { 'meta-data': 'instance-id: iid-3\n', 'user-data': '#cloud-config\nbootcmd: [date]\n' });
  expect(firstBoot('iid-3')).toBe(0);
  expect(existsSync(marker())).toBe(false);
});

test('record never fails the unit, and a wrong mode is a usage error (255: the unit fails)', () => {
  expect(check('record').code).toBe(0);
  const r = spawnSync('/bin/sh', [script, 'bogus'], { encoding: 'utf8' });
  expect(r.status).toBe(255);
});
