// keel's own ISO 9660 and FAT readers (src/cloudconfig/datasources/seed-image/) against the
// kernel: images made by the tools seeds are made with (genisoimage as cloud-localds and
// OpenStack run it, mkfs.vfat and mtools), attached read-only to a loop device and mounted;
// keel must read the same bytes for every path, and the same label blkid reads. Then the
// same images corrupted: every outcome is the seed's bytes or a located refusal, never a
// crash or a hang.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { KeelError } from '../../src/errors.js';
import { findDevicesByLabel, withSeedFilesystem, type BlockDevices } from '../../src/cloudconfig/datasources/labelled-filesystem.js';
import { bufferSource } from '../../src/cloudconfig/datasources/seed-image/byte-source.js';
import { fatLabel, openFat } from '../../src/cloudconfig/datasources/seed-image/fat.js';
import { iso9660Label, openIso9660 } from '../../src/cloudconfig/datasources/seed-image/iso9660.js';
import { openBlockDevice } from '../../src/host/block-device.js';

type Tree = Record<string, string>;

let work: string;
let made = 0;

const nocloud: Tree = {
  'user-data': '#cloud-config\nhostname: seeded\n',
  'meta-data': 'instance-id: iid-1\nlocal-hostname: seeded\n',
  'network-config': 'version: 2\n',
};
const configDrive: Tree = {
  'openstack/latest/user_data': '#cloud-config\nhostname: from-config-drive\n',
  'openstack/latest/meta_data.json': '{"uuid":"cd-1","hostname":"cd"}',
  'ec2/latest/meta-data.json': '{"local-ipv4":"10.1.2.3"}',
};
// Larger than a cluster and a sector; a name over 13 characters (several VFAT entries); an empty file.
const awkward: Tree = {
  'user-data': `#cloud-config\n${'# padding line for a file of many clusters and sectors\n'.repeat(2000)}`,
  'a-name-longer-than-thirteen-characters.yaml': 'long: name\n',
  'empty': '',
  'deep/er/and/deeper/file.txt': 'deep\n',
  ...Object.fromEntries(Array.from({ length: 120 }, (_, i) => [`many/file-${i}`, `${i}\n`])),
};

async function staged(tree: Tree): Promise<string> {
  const root = path.join(work, `tree-${made++}`);
  for (const [file, content] of Object.entries(tree)) {
    await fs.mkdir(path.dirname(path.join(root, file)), { recursive: true });
    await fs.writeFile(path.join(root, file), content);
  }
  return root;
}

async function iso(label: string, tree: Tree, flags: string[]): Promise<string> {
  const image = path.join(work, `image-${made++}.iso`);
  await execa('genisoimage', ['-quiet', '-output', image, '-volid', label, ...flags, await staged(tree)]);
  return image;
}

async function vfat(label: string, tree: Tree, mkfsFlags: string[] = [], sizeMiB = 4): Promise<string> {
  const image = path.join(work, `image-${made++}.vfat`);
  await execa('truncate', ['-s', `${sizeMiB}M`, image]);
  await execa('mkfs.vfat', ['-n', label, ...mkfsFlags, image]);
  const root = await staged(tree);
  for (const file of Object.keys(tree)) {
    const dirs = path.dirname(file).split('/').filter((d) => d !== '.');
    for (let i = 1; i <= dirs.length; i++) await execa('mmd', ['-D', 's', '-i', image, `::${dirs.slice(0, i).join('/')}`], { reject: false });
    await execa('mcopy', ['-o', '-i', image, path.join(root, file), `::${file}`]);
  }
  return image;
}

/**
 * Each path's bytes as the kernel's mount shows them (undefined when missing); where the
 * kernel has no driver for the image (this test machine's has neither vfat nor iso9660), as
 * mtools and isoinfo read them, with the names a mount would use (`naming`).
 */
async function referenceReads(image: string, paths: string[], naming: '-R' | '-J' | 'plain' | 'vfat'): Promise<(string | undefined)[]> {
  const type = naming === 'vfat' ? 'vfat' : 'iso9660';
  const kernel = (await fs.readFile('/proc/filesystems', 'utf8')).split('\n').some((l) => l.trim().split(/\s+/).pop() === type);
  if (kernel) return mountedReads(image, paths);
  if (naming === 'vfat') {
    return Promise.all(paths.map(async (p) => {
      const out = await execa('mcopy', ['-n', '-i', image, `::${p}`, '-'], { reject: false, stripFinalNewline: false, env: { MTOOLS_SKIP_CHECK: '1' } });
      return out.exitCode === 0 ? out.stdout : undefined;
    }));
  }
  const flags = naming === 'plain' ? [] : [naming];
  const listed = (await execa('isoinfo', ['-i', image, ...flags, '-f'])).stdout.split('\n');
  return Promise.all(paths.map(async (p) => {
    if (!listed.includes(`/${p}`)) return undefined;
    return (await execa('isoinfo', ['-i', image, ...flags, '-x', `/${p}`], { stripFinalNewline: false })).stdout;
  }));
}

async function mountedReads(image: string, paths: string[]): Promise<(string | undefined)[]> {
  const { stdout: loop } = await execa('losetup', ['--find', '--show', '--read-only', image]);
  const dir = await fs.mkdtemp(path.join(work, 'mnt-'));
  try {
    await execa('mount', ['-o', 'ro', loop.trim(), dir]);
    try {
      return await Promise.all(paths.map((p) => fs.readFile(path.join(dir, p), 'utf8').catch(() => undefined)));
    } finally {
      await execa('umount', [dir]);
    }
  } finally {
    await execa('losetup', ['-d', loop.trim()]);
  }
}

async function keelReads(image: string, paths: string[]): Promise<(string | undefined)[]> {
  const source = bufferSource(new Uint8Array(await fs.readFile(image)));
  const files = (await openIso9660(source, image, 1 << 20)) ?? (await openFat(source, image, 1 << 20));
  if (!files) throw new Error(`${image}: keel found no filesystem`);
  const decode = (b: Uint8Array | undefined) => (b ? new TextDecoder().decode(b) : undefined);
  return Promise.all(paths.map(async (p) => decode(await files.read(p))));
}

async function keelLabel(image: string): Promise<string | undefined> {
  const source = bufferSource(new Uint8Array(await fs.readFile(image)));
  return (await iso9660Label(source, image)) ?? (await fatLabel(source, image));
}

beforeAll(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'keel-seed-image-'));
});
afterAll(async () => {
  await fs.rm(work, { recursive: true, force: true });
});

const cases: [string, () => Promise<string>, Tree, '-R' | '-J' | 'plain' | 'vfat'][] = [
  ['iso9660, Rock Ridge and Joliet (cloud-localds)', () => iso('cidata', nocloud, ['-joliet', '-rock']), nocloud, '-R'],
  ['iso9660, Rock Ridge only', () => iso('cidata', awkward, ['-rock']), awkward, '-R'],
  ['iso9660, Joliet only', () => iso('cidata', awkward, ['-joliet']), awkward, '-J'],
  ['iso9660, plain names only', () => iso('cidata', nocloud, []), nocloud, 'plain'],
  ['iso9660 config drive', () => iso('config-2', configDrive, ['-joliet', '-rock']), configDrive, '-R'],
  ['FAT12 (mkfs.vfat on 4 MiB)', () => vfat('cidata', awkward), awkward, 'vfat'],
  ['FAT16', () => vfat('CIDATA', awkward, ['-F', '16', '-s', '1']), awkward, 'vfat'],
  ['FAT32', () => vfat('config-2', configDrive, ['-F', '32', '-s', '1'], 40), configDrive, 'vfat'],
];

describe('keel reads what the kernel (or mtools, isoinfo) reads', () => {
  test.each(cases)('%s: every path, the missing ones, and the label as blkid reads it', async (_, make, tree, naming) => {
    const image = await make();
    const paths = [...Object.keys(tree), 'missing', 'openstack/latest/missing', 'USER-DATA', 'user-data/inside-a-file'];
    const [reference, keel] = [await referenceReads(image, paths, naming), await keelReads(image, paths)];
    expect(keel).toEqual(reference);
    // The paths the tree holds are there (not with plain ISO names: a mount shows `user_dat`).
    if (naming !== 'plain') expect(keel.slice(0, Object.keys(tree).length)).toEqual(Object.values(tree));
    const { stdout: label } = await execa('blkid', ['-p', '-o', 'value', '-s', 'LABEL', image]);
    expect(await keelLabel(image)).toBe(label.trim());
  });

  test('a file from a fragmented FAT chain', async () => {
    const image = await vfat('cidata', { 'spacer-1': 'x'.repeat(3000), 'spacer-2': 'y'.repeat(3000) });
    await execa('mdel', ['-i', image, '::spacer-1']);
    const big = path.join(work, 'big');
    await fs.writeFile(big, 'z'.repeat(20_000));
    await execa('mcopy', ['-i', image, big, '::user-data']);
    expect(await keelReads(image, ['user-data', 'spacer-2'])).toEqual(await referenceReads(image, ['user-data', 'spacer-2'], 'vfat'));
    expect((await keelReads(image, ['user-data']))[0]).toBe('z'.repeat(20_000));
  });
});

describe('a corrupt or hostile image is refused with its device named, never a crash or a hang', () => {
  /** Runs the reader over `bytes` and says how it ended. */
  async function outcome(bytes: Uint8Array, maxBytes = 1 << 20): Promise<string> {
    try {
      const source = bufferSource(bytes);
      await iso9660Label(source, '/dev/evil');
      await fatLabel(source, '/dev/evil');
      const files = (await openIso9660(source, '/dev/evil', maxBytes)) ?? (await openFat(source, '/dev/evil', maxBytes));
      if (files) for (const p of ['user-data', 'meta-data', 'openstack/latest/user_data', 'many/file-7', 'many/file-119']) await files.read(p);
      return 'read';
    } catch (error) {
      if (error instanceof KeelError && error.kind === 'invalid-input' && error.message.startsWith('/dev/evil: ')) return 'refused';
      throw error;
    }
  }

  /** A FAT12 image with its table entries editable; returns the bytes and a setter. */
  async function fat12(tree: Tree) {
    const bytes = new Uint8Array(await fs.readFile(await vfat('cidata', tree)));
    const fatAt = (bytes[14]! | (bytes[15]! << 8)) * 512;
    const set = (cluster: number, value: number) => {
      const at = fatAt + cluster + (cluster >> 1);
      const pair = bytes[at]! | (bytes[at + 1]! << 8);
      const next = cluster & 1 ? (pair & 0x000f) | (value << 4) : (pair & 0xf000) | value;
      bytes[at] = next & 0xff;
      bytes[at + 1] = next >> 8;
    };
    return { bytes, set };
  }

  test('a directory whose FAT chain loops', async () => {
    // The first cluster of the volume (2) is the directory `many` (mcopy makes it first); it spans several.
    const { bytes, set } = await fat12(Object.fromEntries(Array.from({ length: 120 }, (_, i) => [`many/file-${i}`, `${i}\n`])));
    for (let c = 2; c < 8; c++) set(c, 2);
    expect(await outcome(bytes)).toBe('refused');
  });

  test("a file whose chain ends before its size's clusters", async () => {
    const { bytes, set } = await fat12({ 'user-data': 'x'.repeat(9000) });
    set(2, 0xfff);
    expect(await outcome(bytes)).toBe('refused');
  });

  test('a boot sector claiming more sectors than the image has', async () => {
    const bytes = new Uint8Array(await fs.readFile(await vfat('cidata', nocloud)));
    bytes[19] = 0xff;
    bytes[20] = 0xff;
    await expect(outcome(bytes)).resolves.toBe('refused');
  });

  test('an ISO directory whose size runs past the image, and one larger than a seed directory may be', async () => {
    const image = await iso('cidata', nocloud, ['-joliet', '-rock']);
    for (const size of [0x00ffffff, 0x7fffffff]) {
      const bytes = new Uint8Array(await fs.readFile(image));
      // The primary descriptor's root record: its data length at byte 10 of the record.
      new DataView(bytes.buffer).setUint32(16 * 2048 + 156 + 10, size, true);
      expect(await outcome(bytes)).toBe('refused');
    }
  });

  test('a file larger than the limit is refused before it is read', async () => {
    const bytes = new Uint8Array(await fs.readFile(await iso('cidata', nocloud, ['-rock'])));
    await expect(outcome(bytes, 10)).resolves.toBe('refused');
  });

  test.each([
    ['iso9660', () => iso('cidata', awkward, ['-joliet', '-rock'])],
    ['FAT12', () => vfat('cidata', awkward)],
    ['FAT32', () => vfat('cidata', nocloud, ['-F', '32', '-s', '1'], 40)],
  ])('%s with 400 random corruptions of its structures', async (_, make) => {
    const original = new Uint8Array(await fs.readFile(await make()));
    // Corrupt where the structures are: the boot sector or volume descriptors, the FAT, the
    // first directories (ISO: after the descriptors; FAT: the root region or first clusters).
    const view = new DataView(original.buffer, original.byteOffset);
    const isIso = original[32769] === 0x43;
    const sectorBytes = view.getUint16(11, true);
    const fatAt = view.getUint16(14, true) * sectorBytes;
    const fatBytes = (view.getUint16(22, true) || view.getUint32(36, true)) * sectorBytes;
    const windows = isIso ? [[0, 65536]] : [[0, 1024], [fatAt, fatAt + 4096], [fatAt + original[16]! * fatBytes, fatAt + original[16]! * fatBytes + 32768]];
    const position = () => {
      const [from, to] = windows[Math.floor(random() * windows.length)]!;
      return from! + Math.floor(random() * (to! - from!));
    };
    let seed = 1;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const ends: Record<string, number> = {};
    for (let i = 0; i < 400; i++) {
      // Flipped in place and put back after, so the image is not copied 400 times.
      const flipped = Array.from({ length: 1 + Math.floor(random() * 8) }, position);
      const kept = flipped.map((at) => original[at]!);
      for (const at of flipped) original[at] = Math.floor(random() * 256);
      const ended = await outcome(original);
      ends[ended] = (ends[ended] ?? 0) + 1;
      flipped.forEach((at, j) => (original[at] = kept[j]!));
    }
    expect(Object.keys(ends).sort()).toEqual(['read', 'refused']);
  }, 60_000);
});

describe('finding seeds by label', () => {
  test('devices in label order, each once; one that cannot be opened and one of another filesystem are passed over', async () => {
    const images = {
      '/dev/fake-a': await vfat('CIDATA', nocloud),
      '/dev/fake-b': await iso('cidata', nocloud, ['-rock']),
      '/dev/fake-c': await iso('config-2', configDrive, ['-rock']),
      '/dev/fake-d': path.join(work, 'not-a-filesystem'),
    };
    await fs.writeFile(images['/dev/fake-d'], new Uint8Array(1 << 20));
    const devices: BlockDevices = {
      list: async () => ['/dev/fake-gone', ...Object.keys(images)],
      open: async (device) => {
        const image = images[device as keyof typeof images];
        if (!image) throw new Error('ENOMEDIUM');
        return openBlockDevice(image);
      },
    };
    expect(await findDevicesByLabel(['cidata', 'CIDATA'], devices)).toEqual(['/dev/fake-b', '/dev/fake-a']);
    expect(await findDevicesByLabel(['config-2'], devices)).toEqual(['/dev/fake-c']);
    const read = await withSeedFilesystem('/dev/fake-c', 1000, (files) => files.read('openstack/latest/meta_data.json'), devices);
    expect(new TextDecoder().decode(read)).toBe(configDrive['openstack/latest/meta_data.json']);
    await expect(withSeedFilesystem('/dev/fake-d', 1000, async () => 'read', devices)).rejects.toThrow('/dev/fake-d: neither an iso9660 nor a vfat filesystem; skipping this seed');
    await expect(withSeedFilesystem('/dev/fake-gone', 1000, async () => 'read', devices)).rejects.toThrow('/dev/fake-gone: cannot open it to read a seed: ENOMEDIUM');
  });
});
