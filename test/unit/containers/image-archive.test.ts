// Image archives: names read from real tar files (docker and OCI layouts), and name normalization.
import { execa } from 'execa';
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { imagesInArchive, normalizeImageName, readTarMembers } from '../../../src/containers/image-archive.js';

describe('normalizeImageName', () => {
  test.each([
    ['busybox', 'docker.io/library/busybox:latest'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36'],
    ['me/app', 'docker.io/me/app:latest'],
    ['localhost/busybox:test', 'localhost/busybox:test'],
    ['registry.example:5000/a/b', 'registry.example:5000/a/b:latest'],
    ['quay.io/x/y@sha256:abc', 'quay.io/x/y@sha256:abc'],
  ])('%s → %s', (name, full) => expect(normalizeImageName(name)).toBe(full));
});

async function tarOf(files: Record<string, string>, padding = 0): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'keel-tar-'));
  await mkdir(join(dir, 'in', 'blobs'), { recursive: true });
  // A large member first, so finding the manifest means skipping over it.
  if (padding) await writeFile(join(dir, 'in', 'blobs', 'layer'), Buffer.alloc(padding, 7));
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, 'in', name), text);
  const out = join(dir, 'image.tar');
  await execa('tar', ['-C', join(dir, 'in'), '-cf', out, ...(padding ? ['blobs'] : []), ...Object.keys(files)]);
  return out;
}

describe('imagesInArchive', () => {
  test('docker archive: RepoTags of manifest.json', async () => {
    const tar = await tarOf({ 'manifest.json': JSON.stringify([{ RepoTags: ['localhost/busybox:test', 'busybox'] }]) }, 1_000_000);
    expect(await imagesInArchive(tar)).toEqual(['localhost/busybox:test', 'docker.io/library/busybox:latest']);
  });
  test('OCI archive: ref.name annotations of index.json', async () => {
    const tar = await tarOf({ 'index.json': JSON.stringify({ manifests: [{ annotations: { 'org.opencontainers.image.ref.name': 'localhost/app:2' } }, { annotations: { 'org.opencontainers.image.ref.name': 'v1' } }] }) });
    expect(await imagesInArchive(tar)).toEqual(['localhost/app:2']);
  });
  test('an archive without metadata names nothing', async () => {
    expect(await imagesInArchive(await tarOf({ 'other.txt': 'x' }))).toEqual([]);
    expect(await imagesInArchive(await tarOf({ 'manifest.json': '{not json' }))).toEqual([]);
  });
  test('readTarMembers reads only what is asked', async () => {
    const tar = await tarOf({ 'a.json': 'A', 'b.json': 'B' });
    expect([...(await readTarMembers(tar, ['b.json']))]).toEqual([['b.json', 'B']]);
  });
});
