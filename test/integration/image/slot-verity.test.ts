// Issue 15: the slot image carries its dm-verity hash area (images/make-slot.sh), the release
// manifest carries the root hash (images/manifest.sh) and slot A's boot entry carries it on the
// kernel command line (images/verity-cmdline.sh, images/make-disk.sh). Debian's veritysetup is
// the oracle: `veritysetup verify` must accept the slot with the sidecar's root hash and reject
// it after one flipped byte, in the filesystem and in the hash tree alike.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { sha256OfFile } from '../../../src/update/release-bundle.js';
import { flipByte } from '../../harness/flip-byte.js';

const images = join(process.cwd(), 'images');
const epoch = '1700000000';
const block = 4096;
let work: string;
let slot: string;
let verity: Verity;

interface Verity {
  hashAlgorithm: string;
  dataBlockSize: number;
  hashBlockSize: number;
  dataSize: number;
  hashOffset: number;
  salt: string;
  rootHash: string;
}

async function makeSlot(tree: string, out: string, version: string): Promise<Verity> {
  await execa(join(images, 'make-slot.sh'), [tree, out, version], { env: { SOURCE_DATE_EPOCH: epoch } });
  return JSON.parse(await readFile(`${out}.verity.json`, 'utf8')) as Verity;
}

/** `veritysetup verify` of a slot file against a root hash: true when every block checks out. */
async function verify(file: string, rootHash: string, hashOffset: number): Promise<boolean> {
  const r = await execa('veritysetup', ['verify', file, file, rootHash, `--hash-offset=${hashOffset}`], { reject: false });
  return r.exitCode === 0;
}

/** A copy of the slot with the byte at `offset` inverted. */
async function flipped(offset: number, name: string): Promise<string> {
  const out = join(work, name);
  await writeFile(out, await readFile(slot));
  await flipByte(out, offset);
  return out;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'keel-slot-verity-'));
  const tree = join(work, 'tree');
  for (let i = 0; i < 6; i++) {
    await mkdir(join(tree, 'usr', `d${i}`), { recursive: true });
    // Incompressible content: the filesystem spans several hundred blocks, the tree two levels.
    await writeFile(join(tree, 'usr', `d${i}`, 'f'), Buffer.from(Array.from({ length: 200_000 }, (_, j) => (j * 7919 + i * 104729) % 251)));
  }
  await mkdir(join(tree, 'sbin'));
  await writeFile(join(tree, 'sbin/init'), '#!/bin/sh\n', { mode: 0o755 });
  slot = join(work, 'slot.img');
  verity = await makeSlot(tree, slot, '15.0.0');
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('make-slot.sh', () => {
  test('the sidecar names the layout: sha256, 4096-byte blocks, the hash area right after the padded filesystem', async () => {
    expect(verity).toEqual({
      hashAlgorithm: 'sha256',
      dataBlockSize: block,
      hashBlockSize: block,
      dataSize: verity.hashOffset,
      hashOffset: expect.any(Number),
      salt: expect.stringMatching(/^[0-9a-f]{64}$/),
      rootHash: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(verity.hashOffset % block).toBe(0);
    const size = (await stat(slot)).size;
    // The superblock, at least one hash block, nothing but whole blocks.
    expect(size).toBeGreaterThanOrEqual(verity.hashOffset + 2 * block);
    expect(size % block).toBe(0);
    // The filesystem is intact at the start: erofs's magic at byte 1024.
    const head = (await readFile(slot)).subarray(1024, 1028);
    expect(head.readUInt32LE(0)).toBe(0xe0f5e1e2);
  });

  test('veritysetup verify accepts the slot with its root hash, and its superblock agrees with the sidecar', async () => {
    expect(await verify(slot, verity.rootHash, verity.hashOffset)).toBe(true);
    const dump = (await execa('veritysetup', ['dump', slot, `--hash-offset=${verity.hashOffset}`])).stdout;
    expect(dump).toMatch(new RegExp(`Salt:\\s+${verity.salt}`));
    expect(dump).toMatch(new RegExp(`Data blocks:\\s+${verity.dataSize / block}\\b`));
    expect(dump).toMatch(/Hash algorithm:\s+sha256/);
    // Another root hash is refused.
    expect(await verify(slot, verity.rootHash.replace(/^./, (c) => (c === '0' ? '1' : '0')), verity.hashOffset)).toBe(false);
  });

  test.each([
    ['the erofs superblock', () => 1024],
    ['the last filesystem block', () => verity.hashOffset - 1],
    ['the top hash block', () => verity.hashOffset + block],
    ['the last hash block', async () => (await stat(slot)).size - 1],
  ])('one flipped byte in %s: veritysetup verify refuses the slot', async (_what, at) => {
    const bad = await flipped(await at(), `bad-${Math.random().toString(36).slice(2)}.img`);
    expect(await verify(bad, verity.rootHash, verity.hashOffset)).toBe(false);
  });

  test('reproducible: the same tree and version give the same bytes and sidecar; another version another salt and root hash', async () => {
    const again = join(work, 'again.img');
    expect(await makeSlot(join(work, 'tree'), again, '15.0.0')).toEqual(verity);
    expect(await sha256OfFile(again)).toBe(await sha256OfFile(slot));
    const other = await makeSlot(join(work, 'tree'), join(work, 'other.img'), '15.0.1');
    expect(other.salt).not.toBe(verity.salt);
    expect(other.rootHash).not.toBe(verity.rootHash);
    expect(other.hashOffset).toBe(verity.hashOffset);
  });
});

describe('manifest.sh release', () => {
  test('"verity" is the sidecar, and the slot artifact covers the filesystem and the hash area', async () => {
    const dir = join(work, 'release');
    await mkdir(dir);
    await writeFile(join(dir, 'slot.img'), await readFile(slot));
    await writeFile(join(dir, 'slot.img.verity.json'), await readFile(`${slot}.verity.json`));
    await writeFile(join(dir, 'vmlinuz'), 'kernel');
    await writeFile(join(dir, 'initramfs.img'), 'initramfs');
    const manifest = JSON.parse((await execa(join(images, 'manifest.sh'), ['release', '15.0.0', dir])).stdout);
    expect(manifest.verity).toEqual(verity);
    expect(manifest.artifacts.slot).toEqual({ path: 'slot.img', size: (await stat(slot)).size, sha256: await sha256OfFile(slot) });
  });

  test('without the sidecar it refuses and prints no manifest', async () => {
    const dir = join(work, 'release-bare');
    await mkdir(dir);
    for (const f of ['slot.img', 'vmlinuz', 'initramfs.img']) await writeFile(join(dir, f), 'x');
    const r = await execa(join(images, 'manifest.sh'), ['release', '15.0.0', dir], { reject: false });
    expect(r.exitCode).not.toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('slot.img.verity.json is missing');
  });
});

describe('the boot entry', () => {
  test('verity-cmdline.sh prints keel.verity= and keel.verity.hashoffset= from the sidecar and refuses a malformed one', async () => {
    const words = (await execa(join(images, 'verity-cmdline.sh'), [`${slot}.verity.json`])).stdout;
    expect(words).toBe(`keel.verity=${verity.rootHash} keel.verity.hashoffset=${verity.hashOffset}`);
    const bad = join(work, 'bad.verity.json');
    await writeFile(bad, JSON.stringify({ ...verity, rootHash: 'abc' }));
    const r = await execa(join(images, 'verity-cmdline.sh'), [bad], { reject: false });
    expect(r.exitCode).not.toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('expected a 64-hex rootHash');
  });

  test('make-disk.sh writes the slot into partition 2 and its root hash into slot A\'s entry', async () => {
    const disk = join(work, 'disk.img');
    const sdboot = join(work, 'BOOTX64.EFI');
    await writeFile(sdboot, 'not a real loader');
    await execa(join(images, 'make-disk.sh'), [disk, slot, join(work, 'release/vmlinuz'), join(work, 'release/initramfs.img'), sdboot, '15.0.0', '/etc/mke2fs.conf']);
    const table = JSON.parse((await execa('sfdisk', ['--json', disk])).stdout).partitiontable;
    const esp = table.partitions.find((p: { name: string }) => p.name === 'EFI-SYSTEM');
    const slotA = table.partitions.find((p: { name: string }) => p.name === 'keel-root-a');
    const entry = (await execa('mtype', ['-i', `${disk}@@${esp.start * 512}`, '::/loader/entries/keel-15.0.0.conf'], { env: { MTOOLS_SKIP_CHECK: '1' } })).stdout;
    expect(entry).toMatch(new RegExp(`^options .*keel\\.slot=a keel\\.verity=${verity.rootHash} keel\\.verity\\.hashoffset=${verity.hashOffset}$`, 'm'));
    // The partition as the initramfs sees it: veritysetup verifies it in place.
    const part = join(work, 'slot-a.part');
    await execa('dd', [`if=${disk}`, `of=${part}`, 'bs=1M', `skip=${slotA.start * 512}`, `count=${(await stat(slot)).size}`, 'iflag=skip_bytes,count_bytes', 'status=none']);
    expect(await verify(part, verity.rootHash, verity.hashOffset)).toBe(true);
  });
});
