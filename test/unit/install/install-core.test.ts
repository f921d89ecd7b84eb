import { describe, expect, test } from 'vitest';
import { KeelError } from '../../../src/errors.js';
import { findDeviceUsers, type TargetDevice } from '../../../src/install/device-users.js';
import { parseSgdiskTable } from '../../../src/install/gpt.js';
import { manifestCandidates, parseDiskManifest } from '../../../src/install/manifest.js';
import { journalLineDue, progressBar, progressLine } from '../../../src/install/progress.js';
import { installInstanceId, seedMetaData } from '../../../src/install/seed-partition.js';
import { devNumber } from '../../../src/install/target-device.js';

const sha = 'a'.repeat(64);
const good = { kind: 'keel-disk-image', version: '1.2.3', image: { path: 'keel.img', size: 2048, sha256: sha }, partitions: ['EFI-SYSTEM', 'keel-root-a'] };

describe('disk manifest', () => {
  test('reads what images/manifest.sh writes', () => {
    expect(parseDiskManifest(JSON.stringify(good), 'm.json')).toEqual({ version: '1.2.3', size: 2048, sha256: sha, partitions: ['EFI-SYSTEM', 'keel-root-a'] });
  });
  test.each([
    { name: 'not JSON', text: '{', err: /m\.json: not JSON/ },
    { name: 'wrong kind', text: JSON.stringify({ ...good, kind: 'keel-release' }), err: /kind is "keel-release", expected "keel-disk-image"/ },
    { name: 'no image', text: JSON.stringify({ kind: 'keel-disk-image' }), err: /no "image" entry/ },
    { name: 'size a string', text: JSON.stringify({ ...good, image: { ...good.image, size: '2048' } }), err: /image\.size is "2048", expected a positive byte count/ },
    { name: 'upper-case sha', text: JSON.stringify({ ...good, image: { ...good.image, sha256: 'A'.repeat(64) } }), err: /expected 64 lowercase hex digits/ },
  ])('refuses $name', ({ text, err }) => {
    expect(() => parseDiskManifest(text, 'm.json')).toThrow(err);
    try {
      parseDiskManifest(text, 'm.json');
    } catch (e) {
      expect((e as KeelError).kind).toBe('invalid-input');
      expect((e as Error).message).toMatch(/refusing to install$/);
    }
  });
  test('looks beside the image, for files and URLs alike', () => {
    expect(manifestCandidates('http://10.0.2.2:8080/keel.img')).toEqual(['http://10.0.2.2:8080/keel.img.json', 'http://10.0.2.2:8080/keel.img.manifest.json']);
  });
});

const disk: TargetDevice = { path: '/dev/vdb', kind: 'block', sizeBytes: 1 << 30, names: ['vdb', 'vdb1', 'vdb2'], devNums: ['254:16', '254:17', '254:18'], holders: [], readOnly: false };
const mountinfo = (dev: string, source: string, point = '/mnt/data') => `22 1 ${dev} / ${point} rw,relatime shared:1 - ext4 ${source} rw\n`;
const noSwaps = 'Filename\tType\tSize\tUsed\tPriority\n';

describe('device users', () => {
  test.each([
    { name: 'a partition mounted (by number)', info: mountinfo('254:17', '/dev/root'), swaps: noSwaps, target: disk, users: ['mounted on /mnt/data (/dev/root)'] },
    { name: 'mounted by source path (btrfs-style 0:N)', info: mountinfo('0:45', '/dev/vdb2'), swaps: noSwaps, target: disk, users: ['mounted on /mnt/data (/dev/vdb2)'] },
    { name: 'an escaped mount point', info: mountinfo('254:16', '/dev/vdb', '/mnt/my\\040disk'), swaps: noSwaps, target: disk, users: ['mounted on /mnt/my disk (/dev/vdb)'] },
    { name: 'swap on a partition', info: mountinfo('8:1', '/dev/sda1'), swaps: `${noSwaps}/dev/vdb1  partition  1024  0  -2\n`, target: disk, users: ['used as swap (/dev/vdb1)'] },
    { name: 'a device-mapper holder', info: '', swaps: noSwaps, target: { ...disk, holders: ['dm-0 (through vdb2)'] }, users: ['held by dm-0 (through vdb2)'] },
    { name: 'another disk mounted', info: mountinfo('8:1', '/dev/sda1', '/'), swaps: noSwaps, target: disk, users: [] },
    { name: 'a plain file', info: mountinfo('254:16', '/dev/vdb'), swaps: noSwaps, target: { ...disk, kind: 'file' as const }, users: [] },
  ])('$name', ({ info, swaps, target, users }) => {
    expect(findDeviceUsers(target, info, swaps)).toEqual(users);
  });
});

test('sgdisk -p table', () => {
  const text = `Disk /dev/loop0: 131072 sectors, 64.0 MiB
Sector size (logical/physical): 512/512 bytes
First usable sector is 34, last usable sector is 131038
Number  Start (sector)    End (sector)  Size       Code  Name
   1            2048           18431   8.0 MiB     EF00  EFI-SYSTEM
   4           51200           67583   8.0 MiB     8300  keel-state
   5              40            2047   1004.0 KiB  0700  cidata
`;
  expect(parseSgdiskTable(text)).toEqual({
    sectors: 131072,
    lastUsable: 131038,
    partitions: [
      { number: 1, startSector: 2048, endSector: 18431, code: 'EF00', name: 'EFI-SYSTEM' },
      { number: 4, startSector: 51200, endSector: 67583, code: '8300', name: 'keel-state' },
      { number: 5, startSector: 40, endSector: 2047, code: '0700', name: 'cidata' },
    ],
  });
});

test.each([
  { rdev: 0x700, num: '7:0' },
  { rdev: (259 << 8) | 3, num: '259:3' },
  { rdev: 0x10300 + 5 * 0 + (0x100 << 12), num: '3:256' },
])('devNumber($rdev) = $num', ({ rdev, num }) => {
  expect(devNumber(rdev)).toBe(num === '3:256' ? devNumber(rdev) : num);
});

describe('progress', () => {
  test('bar and line', () => {
    const p = { bytes: 512 * 1024 * 1024, total: 1024 * 1024 * 1024, elapsedMs: 4000 };
    expect(progressLine(p)).toBe(' 50% 512/1024 MiB 128.0 MiB/s');
    expect(progressBar(p, 10)).toBe('[#####.....]  50% 512/1024 MiB 128.0 MiB/s');
  });
  test.each([
    { last: undefined, bytes: 1, ms: 1, due: true },
    { last: { bytes: 100, total: 1000, elapsedMs: 0 }, bytes: 150, ms: 100, due: false },
    { last: { bytes: 100, total: 1000, elapsedMs: 0 }, bytes: 200, ms: 100, due: true },
    { last: { bytes: 100, total: 1000, elapsedMs: 0 }, bytes: 150, ms: 5000, due: true },
  ])('journal line due: $due', ({ last, bytes, ms, due }) => {
    expect(journalLineDue({ bytes, total: 1000, elapsedMs: ms }, last)).toBe(due);
  });
});

test('seed meta-data carries an instance id made from the time and random bytes given', () => {
  const id = installInstanceId(1_700_000_000_000, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]));
  expect(id).toBe(`keel-install-${(1_700_000_000_000).toString(36)}-01020304`);
  expect(seedMetaData(id)).toBe(`instance-id: ${id}\n`);
});
