import { mkdtemp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { readBundle } from '../../../src/update/release-bundle.js';
import { publishRelease } from '../../../src/update/repository-writer.js';
import { generateKeyPairPem, signingKeyOfPem, type SigningKey } from '../../../src/update/signing-key.js';
import { hashAreaBytes, type VerityFacts } from '../../../src/update/verity-facts.js';
import { execa } from 'execa';

/** A temporary directory for one test. */
export async function tempDir(prefix = 'keel-update-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** A key pair: PEM strings plus the signer. */
export function makeKey(): { privatePem: string; publicPem: string; signer: SigningKey } {
  const pair = generateKeyPairPem();
  return { ...pair, signer: signingKeyOfPem(pair.privatePem) };
}

/**
 * Puts a dm-verity hash area into the slot file at `path` with Debian's real `veritysetup
 * format` (superblock at the data's end, as images/make-slot.sh does) over its first
 * `dataSize` bytes; the file keeps its size. Returns the facts the manifest carries.
 */
export async function formatVerity(path: string, dataSize: number, version: string): Promise<VerityFacts> {
  const salt = createHash('sha256').update(`keel-verity-salt ${version}`).digest('hex');
  const uuid = createHash('sha256').update(`keel-verity-uuid ${version}`).digest('hex').replace(/^(.{8})(.{4}).(.{3}).(.{3})(.{12}).*$/, '$1-$2-4$3-8$4-$5');
  const r = await execa('veritysetup', ['format', path, path, `--hash-offset=${dataSize}`, `--data-blocks=${dataSize / 4096}`, `--salt=${salt}`, `--uuid=${uuid}`]);
  const rootHash = /^Root hash:\s*([0-9a-f]{64})$/m.exec(r.stdout)?.[1];
  if (!rootHash) throw new Error(`veritysetup format printed no root hash: ${r.stdout}`);
  return { hashAlgorithm: 'sha256', dataBlockSize: 4096, hashBlockSize: 4096, dataSize, hashOffset: dataSize, salt, rootHash };
}

/** The largest data size (a multiple of 4096) whose hash area still fits in `size` bytes; 0 when none does. */
export function verityDataSizeFor(size: number): number {
  let data = Math.floor(size / 4096) * 4096;
  while (data > 0 && data + hashAreaBytes(data) > size) data -= 4096;
  return data;
}

/**
 * Writes a release bundle with a random slot image of `size` bytes; returns its dir and image.
 * The slot carries a real dm-verity tree and the manifest its facts, as `make image` makes
 * them, unless `verity` is false or the slot is too small for one (under 12 KiB).
 */
export async function makeBundle(dir: string, version: string, size = 200_000, options: { verity?: boolean } = {}): Promise<{ dir: string; image: Buffer; sha256: string; verity?: VerityFacts }> {
  const bundleDir = join(dir, `bundle-${version}`);
  await mkdir(bundleDir, { recursive: true });
  const slotPath = join(bundleDir, 'root.img');
  await writeFile(slotPath, randomBytes(size));
  const dataSize = options.verity === false ? 0 : verityDataSizeFor(size);
  const verity = dataSize > 0 ? await formatVerity(slotPath, dataSize, version) : undefined;
  const image = await readFile(slotPath);
  await writeFile(join(bundleDir, 'vmlinuz'), `kernel ${version}\n`);
  await writeFile(join(bundleDir, 'initrd.img'), `initramfs ${version}\n`);
  const sha256 = createHash('sha256').update(image).digest('hex');
  const files = [{ name: 'root.img', role: 'slot', size, sha256 }, { name: 'vmlinuz', role: 'kernel' }, { name: 'initrd.img', role: 'initramfs' }];
  await writeFile(join(bundleDir, 'manifest.json'), JSON.stringify({ version, files, ...(verity && { verity }) }));
  return { dir: bundleDir, image, sha256, ...(verity && { verity }) };
}

/** Publishes `version` into `repo` signed by `key`; returns the slot image bytes. */
export async function publish(repo: string, work: string, key: SigningKey, version: string, options: { nowMs?: number; expiresInDays?: number; channel?: string; size?: number; verity?: boolean } = {}): Promise<Buffer> {
  const bundle = await makeBundle(work, version, options.size, options.verity === undefined ? {} : { verity: options.verity });
  await publishRelease({ repoDir: repo, key, bundle: await readBundle(bundle.dir), channel: options.channel ?? 'stable', nowMs: options.nowMs ?? Date.now(), ...(options.expiresInDays !== undefined && { expiresInDays: options.expiresInDays }) });
  return bundle.image;
}
