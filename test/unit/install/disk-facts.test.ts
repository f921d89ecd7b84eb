import { mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { RunCommand } from '../../../src/host/process.js';
import { readDiskFacts } from '../../../src/install/disk-facts.js';
import { devNumber } from '../../../src/install/target-device.js';

// A fake /sys and /dev: the edge reads only files, so a tree of them stands in for the kernel.
let root: string;
let sys: string;
let dev: string;
let mediumFile: string;
const wipefsCalls: string[] = [];

function disk(where: string, name: string, files: Record<string, string>, parts: Record<string, string> = {}): void {
  const dir = join(sys, where, 'block', name);
  mkdirSync(join(dir, 'holders'), { recursive: true });
  mkdirSync(join(dir, 'device'), { recursive: true });
  for (const [f, v] of Object.entries({ ro: '0', removable: '0', size: '2097152', ...files })) writeFileSync(join(dir, f), `${v}\n`);
  for (const [p, num] of Object.entries(parts)) {
    mkdirSync(join(dir, p, 'holders'), { recursive: true });
    writeFileSync(join(dir, p, 'partition'), '1\n');
    writeFileSync(join(dir, p, 'dev'), `${num}\n`);
  }
  symlinkSync(dir, join(sys, 'block', name));
}

const run: RunCommand = async (file, args) => {
  wipefsCalls.push([file, ...args].join(' '));
  const device = (args[args.length - 1] ?? '').replace(/.*\//, '');
  if (device === 'sdb') return { exitCode: 0, stdout: '{"signatures":[{"device":"sdb","offset":"0x1fe","type":"PMBR"},{"device":"sdb","offset":"0x200","type":"gpt"},{"device":"sdb","offset":"0x3ffe00","type":"gpt"}]}', stderr: '', timedOut: false };
  if (device === 'sdd') return { exitCode: 1, stdout: '', stderr: 'wipefs: error: /dev/sdd: probing initialization failed: Permission denied\nmore', timedOut: false };
  return { exitCode: 0, stdout: '', stderr: '', timedOut: false };
};

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'keel-disk-facts-'));
  sys = join(root, 'sys');
  dev = join(root, 'dev');
  mkdirSync(join(sys, 'block'), { recursive: true });
  mkdirSync(join(dev, 'disk/by-id'), { recursive: true });
  mediumFile = join(root, 'keel.img');
  writeFileSync(mediumFile, 'x');
  disk('devices/pci0000:00/0000:00:04.0/virtio1', 'vda', { dev: '254:0', serial: 'disk 0', 'device/vendor': '0x1af4' });
  disk('devices/pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0', 'sda', { dev: '8:0', 'device/vendor': 'ATA     ', 'device/model': 'SAMSUNG MZ7LH480', 'device/wwid': 'naa.5002538E40A1B2C3' }, { sda1: devNumber(statSync(mediumFile).dev) });
  disk('devices/pci0000:00/0000:00:17.0/ata2/host1/target1:0:0/1:0:0:0', 'sdb', { dev: '8:16', removable: '1', 'device/model': 'Ultra Fit' });
  disk('devices/pci0000:00/0000:00:17.0/ata3/host2/target2:0:0/2:0:0:0', 'sdc', { dev: '8:32', size: '0' });
  disk('devices/pci0000:00/0000:00:17.0/ata4/host3/target3:0:0/3:0:0:0', 'sdd', { dev: '8:48' });
  disk('devices/pci0000:00/0000:00:1d.0/nvme/nvme0', 'nvme0n1', { dev: '259:0', 'device/model': 'SAMSUNG MZQL2960HCJR-00A07              ', 'device/serial': '  S64FNE0R123456  ', wwid: 'eui.36344630529001230025384500000001' });
  disk('devices/virtual', 'loop0', { dev: '7:0' });
  writeFileSync(join(dev, 'nvme0n1'), ''); // the node a by-id link resolves to
  symlinkSync('../../nvme0n1', join(dev, 'disk/by-id/nvme-from-udev'));
  symlinkSync('../../gone', join(dev, 'disk/by-id/dangling'));
});

afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

test('reads every real disk, skips virtual ones, and derives the by-id names udev would give', async () => {
  const facts = await readDiskFacts({ run, mountinfo: '', swaps: '', medium: [{ path: mediumFile, what: 'the image' }, { path: join(root, 'nope'), what: 'nothing' }], sysRoot: sys, devRoot: dev });
  const by = Object.fromEntries(facts.map((f) => [f.name, f]));
  expect(Object.keys(by).sort()).toEqual(['nvme0n1', 'sda', 'sdb', 'sdc', 'sdd', 'vda']);
  expect(by.vda).toMatchObject({ path: join(dev, 'vda'), model: '', aliases: ['virtio-disk_0'], sizeBytes: 1 << 30, signatures: [] });
  expect(by.sda).toMatchObject({ model: 'ATA SAMSUNG MZ7LH480', aliases: ['wwn-0x5002538e40a1b2c3'], partitions: ['sda1'], medium: 'holds the image' });
  expect(by.sdb).toMatchObject({ removable: true, signatures: ['PMBR', 'gpt'] });
  expect(by.sdc).toMatchObject({ sizeBytes: 0, signatures: [] });
  expect(by.nvme0n1!.aliases).toEqual([join(dev, 'disk/by-id/nvme-from-udev'), 'nvme-SAMSUNG_MZQL2960HCJR-00A07_S64FNE0R123456', 'nvme-eui.36344630529001230025384500000001']);
  // wipefs only lists (no -a), and a disk without a medium is not probed.
  expect(wipefsCalls.every((c) => c.startsWith('wipefs --json '))).toBe(true);
  expect(wipefsCalls).not.toContain(`wipefs --json ${join(dev, 'sdc')}`);
});

test('a disk wipefs cannot read is reported as unknown, never as blank', async () => {
  const facts = await readDiskFacts({ run, mountinfo: '', swaps: '', medium: [], sysRoot: sys, devRoot: dev, only: ['sdd'] });
  expect(facts.map((f) => f.signatures)).toEqual([['unknown: wipefs failed: wipefs: error: /dev/sdd: probing initialization failed: Permission denied']]);
});

test('only= names a virtual disk in (the integration test uses loop devices)', async () => {
  const facts = await readDiskFacts({ run, mountinfo: '22 1 7:0 / /mnt rw - ext4 /dev/loop0 rw\n', swaps: '', medium: [], sysRoot: sys, devRoot: '/dev', only: ['loop0'] });
  expect(facts).toHaveLength(1);
  expect(facts[0]).toMatchObject({ name: 'loop0', users: ['mounted on /mnt (/dev/loop0)'] });
});
