// The block device edge: which devices the disk datasources look at (a stand-in /proc and
// /sys), and positional reads on an image file. Real devices: test/integration/datasources.test.ts.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { listBlockDevices, openBlockDevice } from '../../../src/host/block-device.js';

let dir: string;
beforeEach(() => void (dir = mkdtempSync(join(tmpdir(), 'keel-blockdev-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

test("/proc/partitions' devices with a size in its order, then the CD drives holding a disc", async () => {
  writeFileSync(join(dir, 'partitions'), 'major minor  #blocks  name\n\n 254        0    2361344 vda\n 254        1     131072 vda1\n   7        0          0 loop0\n 254       16        360 vdb\n  11        0       1024 ../x\n');
  for (const [name, size] of [['sr1', '0'], ['sr0', '720'], ['vda', '4722688'], ['loop0', '0']] as const) {
    mkdirSync(join(dir, 'block', name), { recursive: true });
    writeFileSync(join(dir, 'block', name, 'size'), `${size}\n`);
  }
  expect(await listBlockDevices(join(dir, 'partitions'), join(dir, 'block'))).toEqual(['/dev/vda', '/dev/vda1', '/dev/vdb', '/dev/sr0']);
});

test('an image file: its size, reads at offsets, a short read only at its end', async () => {
  const image = join(dir, 'image');
  writeFileSync(image, Buffer.from('0123456789'));
  const opened = await openBlockDevice(image);
  try {
    expect(opened.size).toBe(10);
    expect(Buffer.from(await opened.read(3, 4)).toString()).toBe('3456');
    expect(Buffer.from(await opened.read(8, 4)).toString()).toBe('89');
  } finally {
    await opened.close();
  }
  await expect(openBlockDevice(dir)).rejects.toThrow(/neither a block device nor a regular file/);
});
