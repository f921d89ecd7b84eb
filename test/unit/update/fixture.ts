import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { readBundle } from '../../../src/update/release-bundle.js';
import { publishRelease } from '../../../src/update/repository-writer.js';
import { generateKeyPairPem, signingKeyOfPem, type SigningKey } from '../../../src/update/signing-key.js';

/** A temporary directory for one test. */
export async function tempDir(prefix = 'keel-update-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** A key pair: PEM strings plus the signer. */
export function makeKey(): { privatePem: string; publicPem: string; signer: SigningKey } {
  const pair = generateKeyPairPem();
  return { ...pair, signer: signingKeyOfPem(pair.privatePem) };
}

/** Writes a release bundle with a random slot image of `size` bytes; returns its dir and image. */
export async function makeBundle(dir: string, version: string, size = 200_000): Promise<{ dir: string; image: Buffer; sha256: string }> {
  const bundleDir = join(dir, `bundle-${version}`);
  await mkdir(bundleDir, { recursive: true });
  const image = randomBytes(size);
  await writeFile(join(bundleDir, 'root.img'), image);
  await writeFile(join(bundleDir, 'vmlinuz'), `kernel ${version}\n`);
  await writeFile(join(bundleDir, 'initrd.img'), `initramfs ${version}\n`);
  const sha256 = createHash('sha256').update(image).digest('hex');
  await writeFile(join(bundleDir, 'manifest.json'), JSON.stringify({ version, files: [{ name: 'root.img', role: 'slot', size, sha256 }, { name: 'vmlinuz', role: 'kernel' }, { name: 'initrd.img', role: 'initramfs' }] }));
  return { dir: bundleDir, image, sha256 };
}

/** Publishes `version` into `repo` signed by `key`; returns the slot image bytes. */
export async function publish(repo: string, work: string, key: SigningKey, version: string, options: { nowMs?: number; expiresInDays?: number; channel?: string; size?: number } = {}): Promise<Buffer> {
  const bundle = await makeBundle(work, version, options.size);
  await publishRelease({ repoDir: repo, key, bundle: await readBundle(bundle.dir), channel: options.channel ?? 'stable', nowMs: options.nowMs ?? Date.now(), ...(options.expiresInDays !== undefined && { expiresInDays: options.expiresInDays }) });
  return bundle.image;
}
