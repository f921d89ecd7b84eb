import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { execa, execaSync } from 'execa';
import { makeBundle, makeKey, tempDir } from '../../unit/update/fixture.js';
import { checkForRelease } from '../../../src/update/release-installer.js';
import { stageRelease } from '../../../src/update/stage-release.js';
import type { VerityFacts } from '../../../src/update/verity-facts.js';
import { readBundle } from '../../../src/update/release-bundle.js';
import { publishRelease } from '../../../src/update/repository-writer.js';

// Issue 15, the update side: slots made with Debian's real `veritysetup format`, published by
// `./bin/keel update publish` (so the zstd payload is what installs) or by the library, installed
// by `./bin/keel update install` into files and by the agent's staging step into loop devices.
// `veritysetup verify` is the oracle that the installed slot is what was signed; a byte flipped
// in the data, the hash tree or the superblock after `format` (and before signing the slot's
// SHA-256, so only verity can tell) makes the install fail before any boot entry changes.
const keel = join(process.cwd(), 'bin/keel');
const key = makeKey();
const loops: string[] = [];
let work: string;

type Damage = 'data' | 'tree' | 'superblock';

/** A bundle whose slot is damaged after `veritysetup format`, its manifest's SHA-256 re-made to match. */
async function bundle(version: string, damage?: Damage, options: { verity?: boolean } = {}): Promise<{ dir: string; verity?: VerityFacts }> {
  const made = await makeBundle(join(work, `${version}-${damage ?? 'good'}-${Math.random()}`), version, 1_500_000, options);
  if (!damage) return made;
  const path = join(made.dir, 'root.img');
  const bytes = await readFile(path);
  const v = made.verity!;
  // data: inside the filesystem area; tree: a leaf hash block after the superblock; superblock: its data block count (offset 72, little-endian u64).
  const flip = (at: number) => bytes.writeUInt8(bytes.readUInt8(at) ^ 1, at);
  if (damage === 'data') flip(4096 * 7 + 100);
  else if (damage === 'tree') flip(v.hashOffset + 4096 + 10);
  else bytes.writeBigUInt64LE(BigInt(v.dataSize / 4096 - 8), v.hashOffset + 72);
  await writeFile(path, bytes);
  const manifestPath = join(made.dir, 'manifest.json');
  const manifest = JSON.parse(await readFile(manifestPath, 'utf8'));
  manifest.files[0].sha256 = createHash('sha256').update(bytes).digest('hex');
  await writeFile(manifestPath, JSON.stringify(manifest));
  return made;
}

/** A repository of its own holding one release, published by the CLI (raw slot plus zstd payload). */
async function repoWith(b: { dir: string; verity?: VerityFacts }): Promise<string> {
  const repo = join(work, `repo-${Math.random()}`);
  const run = await execa(keel, ['update', 'publish', '--key', join(work, 'key.pem'), '--bundle', b.dir, '--repo', repo, '--zstd-level', '3'], { reject: false });
  expect(run.exitCode, run.stderr).toBe(0);
  expect(run.stdout).toMatch(b.verity ? `; dm-verity root hash ${b.verity.rootHash} signed` : '; no dm-verity facts in the manifest: nodes refuse it unless ALLOW_RELEASES_WITHOUT_VERITY=true');
  return repo;
}

async function install(repo: string, extra: string[] = []) {
  const target = join(work, `slot-${Math.random()}.img`);
  const run = await execa(keel, ['update', 'install', '--repo', repo, '--target', target, '--trust', join(work, 'trust.pub'), '--state', join(work, `state-${Math.random()}`), '--root', join(work, 'root'), ...extra], { reject: false });
  return { run, target };
}

/** The oracle: Debian's veritysetup verifies `path` against `v`'s root hash. */
function oracle(path: string, v: VerityFacts) {
  return execaSync('veritysetup', ['verify', path, path, v.rootHash, `--hash-offset=${v.hashOffset}`], { reject: false });
}

beforeAll(async () => {
  work = await tempDir('keel-verity-');
  await writeFile(join(work, 'key.pem'), key.privatePem);
  await writeFile(join(work, 'trust.pub'), key.publicPem);
  await mkdir(join(work, 'root'));
});
afterAll(async () => {
  for (const l of loops.splice(0)) execaSync('losetup', ['-d', l], { reject: false });
  await rm(work, { recursive: true, force: true });
});

describe('keel update install with verity', () => {
  test('installs the slot; veritysetup verify passes on what was written', async () => {
    const b = await bundle('2.0.0');
    const repo = await repoWith(b);
    // The manifest's object is signed on the slot target as it was.
    const targets = JSON.parse(await readFile(join(repo, 'metadata/targets.json'), 'utf8')).signed.targets;
    expect(targets['stable/2.0.0/root.img'].custom.keel.verity).toEqual(b.verity);
    const { run, target } = await install(repo, ['--json']);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ installed: '2.0.0', verity: { rootHash: b.verity!.rootHash, hashOffset: b.verity!.hashOffset } });
    expect(oracle(target, b.verity!).exitCode).toBe(0);
  });

  test.each<[Damage, RegExp]>([
    ['data', /veritysetup verify found the written slot does not match the signed root hash [0-9a-f]{64} \(.*\): its data or hash tree is tampered or damaged; not made bootable, nothing installed$/],
    ['tree', /veritysetup verify found the written slot does not match the signed root hash [0-9a-f]{64} \(.*\): its data or hash tree is tampered or damaged; not made bootable, nothing installed$/],
    ['superblock', /the dm-verity superblock disagrees with the signed release: data blocks 353 in the superblock, 361 signed \(tampered or damaged\); not made bootable, nothing installed$/],
  ])('a byte changed in the %s fails the install and leaves no target', async (damage, message) => {
    const b = await bundle('2.0.0', damage);
    // The oracle agrees the slot is not the signed one (the superblock case: its own tree no longer checks out either).
    expect(oracle(join(b.dir, 'root.img'), b.verity!).exitCode).not.toBe(0);
    const { run, target } = await install(await repoWith(b));
    expect(run.exitCode).toBe(1);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(message);
    await expect(stat(target)).rejects.toThrow(/ENOENT/);
    await expect(stat(`${target}.keel-partial`)).rejects.toThrow(/ENOENT/);
  });

  test('a release without verity is refused; --allow-without-verity installs it', async () => {
    const repo = await repoWith(await bundle('2.0.0', undefined, { verity: false }));
    const refused = await install(repo);
    expect(refused.run.exitCode).toBe(1);
    expect(refused.run.stderr.trim()).toBe(
      'keel: release 2.0.0: its signed metadata has no dm-verity root hash, expected one on the slot target; refusing it, nothing installed (ALLOW_RELEASES_WITHOUT_VERITY=true in update.conf (keel update install: --allow-without-verity) accepts such releases)',
    );
    await expect(stat(refused.target)).rejects.toThrow(/ENOENT/);
    const allowed = await install(repo, ['--allow-without-verity']);
    expect(allowed.run.exitCode, allowed.run.stderr).toBe(0);
    expect(allowed.run.stdout).toMatch(/^installed 2\.0\.0 into .*: 1500000 bytes, sha256 [0-9a-f]{64} verified after writing, no dm-verity \(allowed by --allow-without-verity\)$/);
  });
});

describe("the agent's staging step into a loop device", () => {
  const slotA = (hash: string) => `title keel 1.0.0 (slot a)\nversion 1.0.0\nsort-key keel\nlinux /keel/a/vmlinuz\ninitrd /keel/a/initramfs.img\noptions ro keel.slot=a keel.verity=${hash} keel.verity.hashoffset=4096\n`;

  /** A 2 MiB loop device as slot b (its old bytes random), an ESP with slot a's entry, and the release chosen from `repo`. */
  async function node(repo: string) {
    const dir = join(work, `node-${Math.random()}`);
    await mkdir(join(dir, 'boot/loader/entries'), { recursive: true });
    await writeFile(join(dir, 'slot-b.img'), Buffer.alloc(2 << 20, 0x5a));
    const device = execaSync('losetup', ['--find', '--show', join(dir, 'slot-b.img')]).stdout.trim();
    loops.push(device);
    const entryA = slotA('a'.repeat(64));
    await writeFile(join(dir, 'boot/loader/entries/keel-1.0.0.conf'), entryA);
    const stateDir = join(dir, 'state');
    const choice = await checkForRelease({ repo, trustPem: key.publicPem, stateDir, channel: 'stable', nowMs: Date.now() });
    if (choice.kind !== 'install') throw new Error(choice.reason);
    const boot = { esp: join(dir, 'boot'), slot: 'b' as const, options: `ro keel.slot=a keel.verity=${'a'.repeat(64)} keel.verity.hashoffset=4096`, tries: 3 };
    return { dir, device, entryA, release: choice.release, stage: () => stageRelease({ repo, target: device, stateDir, nowMs: Date.now(), boot }, choice.release) };
  }

  test('writes the slot, verity checks out on the device, and the entry carries its root hash', async () => {
    const b = await bundle('2.0.0');
    const n = await node(await repoWith(b));
    await n.stage();
    expect(oracle(n.device, b.verity!).exitCode).toBe(0);
    const entries = (await readdir(join(n.dir, 'boot/loader/entries'))).sort();
    expect(entries).toEqual(['keel-1.0.0.conf', 'keel-2.0.0+3.conf']);
    const entry = await readFile(join(n.dir, 'boot/loader/entries/keel-2.0.0+3.conf'), 'utf8');
    expect(entry).toContain(`options ro keel.slot=b keel.verity=${b.verity!.rootHash} keel.verity.hashoffset=${b.verity!.hashOffset}\n`);
    expect(await readFile(join(n.dir, 'boot/loader/entries/keel-1.0.0.conf'), 'utf8')).toBe(n.entryA);
  });

  test.each<Damage>(['data', 'tree'])('a flipped byte in the %s: no entry for slot b, the entry of slot a untouched, the device not made bootable', async (damage) => {
    const b = await bundle('2.0.0', damage);
    const n = await node(await repoWith(b));
    await writeFile(join(n.dir, 'boot/loader/entries/keel-0.9.0.conf'), 'version 0.9.0\noptions ro keel.slot=b\n');
    const error = await n.stage().catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(new RegExp(`^${n.device}: veritysetup verify found the written slot does not match the signed root hash ${b.verity!.rootHash} .*; not made bootable, nothing installed$`));
    expect(await readdir(join(n.dir, 'boot/loader/entries'))).toEqual(['keel-1.0.0.conf']);
    expect(await readFile(join(n.dir, 'boot/loader/entries/keel-1.0.0.conf'), 'utf8')).toBe(n.entryA);
    await expect(stat(join(n.dir, 'boot/keel/b'))).rejects.toThrow(/ENOENT/);
  });

  test('the raw slot form (no compressed payload) fails the same way and says the device holds unverified bytes', async () => {
    const b = await bundle('2.0.0', 'data');
    const repo = join(work, `repo-raw-${Math.random()}`);
    await publishRelease({ repoDir: repo, key: key.signer, bundle: await readBundle(b.dir), channel: 'stable', nowMs: Date.now() });
    const n = await node(repo);
    const error = await n.stage().catch((e: unknown) => e as Error);
    expect((error as Error).message).toMatch(
      new RegExp(`^${n.device}: veritysetup verify found .*; ${n.device} now holds up to 1500000 unverified bytes of 2\\.0\\.0: it is not made bootable and no boot entry points at it; nothing installed$`),
    );
    expect(await readdir(join(n.dir, 'boot/loader/entries'))).toEqual(['keel-1.0.0.conf']);
  });
});
