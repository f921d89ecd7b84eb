// keel-cloudinit's later-boot check (images/rootfs/usr/lib/keel/keel-cloudinit-check), the sh
// that decides whether a boot starts keel at all: run for real under a fake root, with blkid
// replaced by a script that serves seed "devices" from plain files. Exit 0 = run keel, 1 = skip
// the unit.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { writeInstanceRecord } from '../../../src/apply/instance-record.js';
import { RootFs } from '../../../src/host/root-fs.js';

const script = join(import.meta.dirname, '../../../images/rootfs/usr/lib/keel/keel-cloudinit-check');
let root: string;
let bin: string;

/** The fake tools: blkid -o export lists the device named in each ROOT/labels/LABEL. */
function fakeTools(): void {
  const tools: Record<string, string> = {
    blkid: `#!/bin/sh\necho DEVNAME=/dev/vda1; echo LABEL=keel-state; echo\nfor f in "$KEEL_CHECK_ROOT"/labels/*; do [ -f "$f" ] && printf 'DEVNAME=%s\\nTYPE=iso9660\\nLABEL=%s\\n\\n' "$(cat "$f")" "\${f##*/}"; done\nexit 0\n`,
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
 * What keel does on a first apply: write the instance's record (as apply.ts writes it, with
 * its count of bootcmd lines; `null` for a record of a keel that did not count them), after
 * the condition's snapshot (a second later, as node's start-up makes it); earlier records
 * are older.
 */
async function keelApplies(id = 'iid-1', bootcmds: number | null = 0): Promise<void> {
  const dir = join(root, 'var/lib/keel/cloud-config/instances');
  for (const f of readdirSync(dir)) utimesSync(join(dir, f), new Date(0), new Date(0));
  const fields = { instanceId: id, userDataSha256: 'ab', appliedAt: '2026-12-05T12:00:00.000Z', keelVersion: '0.1.0', operations: 3, failures: [] };
  await writeInstanceRecord(new RootFs(root), bootcmds === null ? fields : { ...fields, bootcmds });
  const record = join(dir, `${id}.json`);
  const snapshot = join(root, 'run/keel/cloudinit-check.seed');
  const later = new Date((existsSync(snapshot) ? statSync(snapshot).mtimeMs : Date.now()) + 1000);
  utimesSync(record, later, later);
}

/** A whole first boot: condition, keel's apply, record. Returns the condition's exit code. */
async function firstBoot(id = 'iid-1', bootcmds: number | null = 0): Promise<number | null> {
  const c = check('condition').code;
  await keelApplies(id, bootcmds);
  expect(check('record').code).toBe(0);
  return c;
}

const marker = () => join(root, 'var/lib/keel/cloud-config/later-boot-check');
const plainSeed = { 'meta-data': 'instance-id: iid-1\n', 'user-data': '#cloud-config\nhostname: a\nruncmd:\n  - echo hi\n' };

test('first boot runs keel; a later boot with the same seed skips it, saying why', async () => {
  seed('cidata', plainSeed);
  expect(await firstBoot()).toBe(0);
  expect(existsSync(marker())).toBe(true);
  const later = check('condition');
  expect(later.code).toBe(1);
  expect(later.stdout).toMatch(/instance already applied/);
});

test('two seed disks: the marker holds a line for each, and a later boot with both unchanged skips keel', async () => {
  seed('cidata', plainSeed);
  seed('config-2', { 'meta_data.json': '{"uuid":"x"}' });
  expect(await firstBoot()).toBe(0);
  const lines = readFileSync(marker(), 'utf8').split('\n');
  expect(lines[0]).toBe('keel-cloudinit-check 2');
  expect(lines.filter((l) => /^(cidata|config-2) /.test(l))).toHaveLength(2);
  expect(check('condition').code).toBe(1);
  // A marker that differs in its last line only (the second seed's digest) runs keel.
  writeFileSync(marker(), readFileSync(marker(), 'utf8').replace(/ [0-9a-f]{64}\n$/, ` ${'0'.repeat(64)}\n`));
  expect(check('condition').code).toBe(0);
});

test.each([
  ['the seed bytes change (a new instance id)', () => seed('cidata', { ...plainSeed, 'meta-data': 'instance-id: iid-2\n' })],
  ['another seed disk appears', () => seed('config-2', { 'meta_data.json': '{"uuid":"x"}' })],
  ['the seed moves to another device', () => { rmSync(join(root, 'labels/cidata')); seed('CIDATA', plainSeed, 'sdb'); }],
  ['the seed disk is gone', () => rmSync(join(root, 'labels/cidata'))],
  ['the command line names a datasource', () => writeFileSync(join(root, 'proc/cmdline'), 'console=ttyS0 ds=nocloud;s=http://10.0.2.2/\n')],
  ['the command line names a cloud-config-url', () => writeFileSync(join(root, 'proc/cmdline'), 'cloud-config-url=http://x/ y\n')],
  ['the marker is gone (a fresh state partition)', () => rmSync(marker())],
])('a later boot runs keel when %s', async (_what, change) => {
  seed('cidata', plainSeed);
  await firstBoot();
  change();
  expect(check('condition').code).toBe(0);
});

test.each([
  ['counts bootcmd lines', 2],
  ['does not count them (written by an earlier keel)', null],
])('an instance whose record %s runs keel on every boot (no marker)', async (_what, bootcmds) => {
  seed('cidata', { 'meta-data': 'instance-id: iid-1\n', 'user-data': '#cloud-config\nbootcmd:\n  - echo every boot\n' });
  await firstBoot('iid-1', bootcmds);
  expect(existsSync(marker())).toBe(false);
  expect(check('condition').code).toBe(0);
});

test('no marker when keel wrote no instance record in this run (no seed read, or applied before)', () => {
  seed('cidata', plainSeed);
  expect(check('condition').code).toBe(0);
  expect(check('record').code).toBe(0);
  expect(existsSync(marker())).toBe(false);
});

test('no marker when the seed changed while keel ran, or is too big, or is absent', async () => {
  const dev = seed('cidata', plainSeed);
  check('condition');
  await keelApplies();
  writeFileSync(dev, 'changed');
  check('record');
  expect(existsSync(marker())).toBe(false);

  seed('cidata', plainSeed);
  check('condition', { KEEL_CHECK_MAX_BYTES: '10' });
  await keelApplies();
  check('record', { KEEL_CHECK_MAX_BYTES: '10' });
  expect(existsSync(marker())).toBe(false);

  rmSync(join(root, 'labels/cidata'));
  expect(await firstBoot()).toBe(0);
  expect(existsSync(marker())).toBe(false);
});

test('a new seed applied over a marked instance replaces the marker; one with bootcmd removes it', async () => {
  seed('cidata', plainSeed);
  await firstBoot();
  const first = readFileSync(marker(), 'utf8');
  seed('cidata', { ...plainSeed, 'meta-data': 'instance-id: iid-2\n' });
  expect(await firstBoot('iid-2')).toBe(0);
  expect(readFileSync(marker(), 'utf8')).not.toBe(first);
  expect(check('condition').code).toBe(1);
  seed('cidata', { 'meta-data': 'instance-id: iid-3\n', 'user-data': '#cloud-config\nbootcmd: [date]\n' });
  expect(await firstBoot('iid-3', 1)).toBe(0);
  expect(existsSync(marker())).toBe(false);
});

test('record never fails the unit, and a wrong mode is a usage error (255: the unit fails)', () => {
  expect(check('record').code).toBe(0);
  const r = spawnSync('/bin/sh', [script, 'bogus'], { encoding: 'utf8' });
  expect(r.status).toBe(255);
});
