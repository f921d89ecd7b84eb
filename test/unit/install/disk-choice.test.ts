import { describe, expect, test } from 'vitest';
import { KeelError } from '../../../src/errors.js';
import { namedDevice, resolveAutoDevice } from '../../../src/install/auto-device.js';
import { chooseDisk, formatCandidates, formatSize, printable, type DiskFacts } from '../../../src/install/disk-choice.js';

const gb = 1_000_000_000;
const image = 2 * gb;

function disk(name: string, over: Partial<DiskFacts> = {}): DiskFacts {
  return { name, path: `/dev/${name}`, sizeBytes: 480 * gb, model: 'ATA SAMSUNG MZ7LH480', removable: false, readOnly: false, aliases: [], signatures: [], partitions: [], users: [], ...over };
}

const root = disk('sda', { partitions: ['sda1', 'sda2'], signatures: ['gpt', 'PMBR'], users: ['mounted on / (/dev/sda2)'] });
const blank = disk('sdb', { aliases: ['/dev/disk/by-id/wwn-0x5002538e40a1b2c3', '/dev/disk/by-path/pci-0000:00:17.0-ata-2'] });
const usb = disk('sdc', { removable: true, model: 'SanDisk Ultra', sizeBytes: 32 * gb });
const old = disk('sdd', { signatures: ['linux_raid_member'] });
const nvme = disk('nvme0n1', { model: 'SAMSUNG MZQL2960HCJR', aliases: ['nvme-SAMSUNG_MZQL2960HCJR_S64FNE0R1', 'nvme-eui.36344630529001230025384500000001'] });

const reasons = (c: ReturnType<typeof chooseDisk>) => Object.fromEntries(c.candidates.map((x) => [x.path, x.reason]));

describe('--device auto without a name: the only blank non-removable disk', () => {
  test('picks it and says why each other disk was not chosen', () => {
    const c = chooseDisk([usb, old, blank, root], { minBytes: image });
    expect(c).toMatchObject({ ok: true, path: '/dev/sdb', rule: 'only-blank-disk' });
    expect(reasons(c)).toEqual({
      '/dev/sda': 'in use: mounted on / (/dev/sda2)',
      '/dev/sdb': 'chosen',
      '/dev/sdc': 'removable',
      '/dev/sdd': 'holds data (linux_raid_member signature)',
    });
  });
  test.each([
    { name: 'two blank disks', disks: [blank, nvme], message: /2 blank non-removable disks, expected exactly one; name one with keel\.install\.device=/, why: 'one of 2 blank disks' },
    { name: 'no blank disk', disks: [root, usb, old], message: /no blank non-removable disk big enough \(2000000000 bytes\) among 3/, why: undefined },
    { name: 'no disks at all', disks: [], message: /^no disks found; nothing to install on$/, why: undefined },
  ])('refuses with $name', ({ disks, message, why }) => {
    const c = chooseDisk(disks, { minBytes: image });
    expect(c.ok).toBe(false);
    if (c.ok) return;
    expect(c.message).toMatch(message);
    expect(c.candidates).toHaveLength(disks.length);
    if (why) expect(new Set(c.candidates.map((x) => x.reason))).toEqual(new Set([why]));
  });
  test.each([
    { name: 'the installer medium', d: disk('sdb', { medium: 'holds the image /run/medium/keel.img' }), why: "the installer's own medium (holds the image /run/medium/keel.img)" },
    { name: 'too small', d: disk('sdb', { sizeBytes: gb }), why: 'smaller than the image (1000000000 < 2000000000 bytes)' },
    { name: 'a card reader without a card', d: disk('sdb', { sizeBytes: 0 }), why: 'no medium (0 bytes)' },
    { name: 'read-only', d: disk('sdb', { readOnly: true }), why: 'read-only' },
    { name: 'partitions without a table signature', d: disk('sdb', { partitions: ['sdb1'] }), why: 'has partitions (sdb1)' },
    { name: 'held by device-mapper', d: disk('sdb', { users: ['held by dm-0'] }), why: 'in use: held by dm-0' },
    { name: 'unknown signatures', d: disk('sdb', { signatures: ['unknown: wipefs failed: permission denied'] }), why: 'holds data (unknown: wipefs failed: permission denied signature)' },
  ])('passes over a blank-looking disk that is $name', ({ d, why }) => {
    const c = chooseDisk([d], { minBytes: image });
    expect(c.ok).toBe(false);
    expect(reasons(c)['/dev/sdb']).toBe(why);
  });
});

describe('--device auto with keel.install.device=', () => {
  test.each([
    ['a by-id path', '/dev/disk/by-id/wwn-0x5002538e40a1b2c3', '/dev/sdb'],
    ['a bare by-id name', 'wwn-0x5002538e40a1b2c3', '/dev/sdb'],
    ['a by-path path', '/dev/disk/by-path/pci-0000:00:17.0-ata-2', '/dev/sdb'],
    ['a derived NVMe id (no udev)', 'nvme-SAMSUNG_MZQL2960HCJR_S64FNE0R1', '/dev/nvme0n1'],
    ['a device path', '/dev/nvme0n1', '/dev/nvme0n1'],
    ['a kernel name', 'sdd', '/dev/sdd'],
    ['a removable disk, when named', '/dev/sdc', '/dev/sdc'],
  ])('takes %s even when it holds data', (_, named, path) => {
    const c = chooseDisk([root, blank, usb, old, nvme], { named, minBytes: image });
    expect(c).toMatchObject({ ok: true, path, rule: 'named' });
    expect(reasons(c)[path]).toBe('chosen');
  });
  test.each([
    { name: 'the mounted system disk', named: '/dev/sda', message: /names \/dev\/sda, which cannot take the install: in use: mounted on \/ \(\/dev\/sda2\); refusing to overwrite it/ },
    { name: 'a partition', named: '/dev/sda2', message: /keel\.install\.device=\/dev\/sda2 names no whole disk here; refusing/ },
    { name: 'a disk that is not here', named: 'wwn-0xdeadbeef', message: /names no whole disk here/ },
    { name: 'an empty value', named: '', message: /keel\.install\.device= is empty; expected a disk's path/ },
    { name: 'a too small disk', named: 'sdc', minBytes: 64 * gb, message: /smaller than the image \(32000000000 < 64000000000 bytes\)/ },
  ])('refuses $name', ({ named, message, minBytes }) => {
    const c = chooseDisk([root, blank, usb, old, nvme], { named, minBytes: minBytes ?? image });
    expect(c.ok).toBe(false);
    if (!c.ok) expect(c.message).toMatch(message);
  });
  test('two disks sharing an alias are ambiguous, not a guess', () => {
    const c = chooseDisk([disk('sdb', { aliases: ['/dev/disk/by-id/dup'] }), disk('sdc', { aliases: ['/dev/disk/by-id/dup'] })], { named: 'dup', minBytes: image });
    expect(c.ok).toBe(false);
    if (!c.ok) expect(c.message).toMatch(/names 2 disks/);
  });
});

describe('hostile names stay one line per disk', () => {
  const evil = disk('sdb', { model: 'EVIL\nkeel: installed ok\u001b[2J\u2028x', signatures: ['ext4\r\nfake'] });
  test('models and signatures with control characters', () => {
    const c = chooseDisk([evil, root], { minBytes: image });
    const text = formatCandidates(c.candidates);
    expect(text.split('\n')).toHaveLength(2);
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u2028]/);
    expect(text).toContain('EVIL?keel: installed ok?[2J?x');
  });
  test('a named value with newlines and escapes is printed inert', () => {
    const c = chooseDisk([root], { named: 'x\n/dev/sdb chosen\u001b]0;t\u0007', minBytes: image });
    expect(c.ok).toBe(false);
    if (!c.ok) expect(c.message).toBe('keel.install.device=x?/dev/sdb chosen?]0;t? names no whole disk here; refusing to choose a disk');
  });
  test('a very long model is cut', () => {
    expect(printable('m'.repeat(500), 48)).toHaveLength(48);
  });
});

test.each([
  ['console=ttyS0 keel.install.device=/dev/sdb ro', '/dev/sdb'],
  ['keel.install.device=sda keel.install.device=nvme0n1', 'nvme0n1'],
  ['keel.install.device=auto', undefined],
  ['"keel.install.device=/dev/disk/by-id/a b"', '/dev/disk/by-id/a b'],
  ['keel.install.device=', ''],
  ['keel.install.devices=sdb keel.install.device.x=1', undefined],
])('namedDevice(%j) = %j', (cmdline, expected) => {
  expect(namedDevice(cmdline)).toBe(expected);
});

test.each([
  [0, '0 B'],
  [999, '999 B'],
  [480_103_981_056, '480.1 GB'],
  [3_840_755_982_336, '3.8 TB'],
])('formatSize(%d) = %s', (bytes, text) => {
  expect(formatSize(bytes)).toBe(text);
});

test('a refusal is a conflict whose message lists every disk, one a line', async () => {
  const logged: string[] = [];
  const log = { debug() {}, info: (m: string) => logged.push(m), notice() {}, warning() {}, error() {} };
  const env = { log, cmdline: () => 'console=ttyS0', diskFacts: async () => [root, blank, nvme] } as unknown as Parameters<typeof resolveAutoDevice>[1];
  const error = await resolveAutoDevice(image, env).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(KeelError);
  expect((error as KeelError).kind).toBe('conflict');
  const lines = (error as Error).message.split('\n');
  expect(lines[0]).toBe('--device auto: 2 blank non-removable disks, expected exactly one; name one with keel.install.device= on the kernel command line; refusing to choose a disk; the disks:');
  expect(lines.slice(1)).toEqual([
    '  /dev/nvme0n1  480.0 GB  SAMSUNG MZQL2960HCJR  one of 2 blank disks',
    '  /dev/sda  480.0 GB  ATA SAMSUNG MZ7LH480  in use: mounted on / (/dev/sda2)',
    '  /dev/sdb  480.0 GB  ATA SAMSUNG MZ7LH480  one of 2 blank disks',
  ]);
  const chosen = await resolveAutoDevice(image, { ...env, cmdline: () => 'keel.install.device=wwn-0x5002538e40a1b2c3' });
  expect(chosen.path).toBe('/dev/sdb');
  expect(logged[0]).toMatch(/^--device auto: \/dev\/sdb \(named by keel\.install\.device=wwn-0x5002538e40a1b2c3\); the disks:\n/);
});
