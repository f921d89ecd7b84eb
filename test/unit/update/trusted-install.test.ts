import { describe, expect, test } from 'vitest';
import { cp, mkdir, readFile, rm, stat, writeFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { installRelease } from '../../../src/update/release-installer.js';
import { rotateRepositoryKey } from '../../../src/update/repository-writer.js';
import { KeelError } from '../../../src/errors.js';
import { makeKey, publish, tempDir } from './fixture.js';

// Metadata verification end to end against directory repositories: every bad repository is
// refused with a message saying what was wrong, and the target file is never created.
async function attempt(repo: string, trustPem: string, work: string, extra: { stateDir?: string; wanted?: string; runningVersion?: string } = {}) {
  const target = join(work, 'slot.img');
  await mkdir(work, { recursive: true }); // the target's directory must exist: it is checked before anything is fetched
  const request = { repo, trustPem, target, stateDir: extra.stateDir ?? join(work, 'state'), channel: 'stable', nowMs: Date.now(), ...(extra.wanted && { wanted: extra.wanted }), ...(extra.runningVersion && { runningVersion: extra.runningVersion }) };
  return { target, run: () => installRelease(request) };
}

async function expectRefused(run: () => Promise<unknown>, target: string, pattern: RegExp): Promise<void> {
  const error = await run().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(KeelError);
  expect((error as KeelError).message).toMatch(pattern);
  await expect(stat(target)).rejects.toThrow(/ENOENT/);
}

describe('keel update install: verification', () => {
  test('a good repository installs the newest release byte-exactly', async () => {
    const work = await tempDir();
    const key = makeKey();
    const repo = join(work, 'repo');
    await publish(repo, work, key.signer, '1.0.0');
    const v2 = await publish(repo, work, key.signer, '2.0.0');
    const { target, run } = await attempt(repo, key.publicPem, work, { runningVersion: '1.0.0' });
    const outcome = await run();
    expect(outcome.kind).toBe('installed');
    expect(Buffer.compare(await readFile(target), v2)).toBe(0);
    expect(await readdir(join(work, 'state'))).toContain('2.0.0.pending');
  });

  test('a stale, longer partial file from an older attempt does not leak into the result', async () => {
    const work = await tempDir();
    const key = makeKey();
    const repo = join(work, 'repo');
    const image = await publish(repo, work, key.signer, '1.0.0');
    const { target, run } = await attempt(repo, key.publicPem, work);
    await writeFile(`${target}.keel-partial`, Buffer.alloc(1 << 20, 7));
    await run();
    expect(Buffer.compare(await readFile(target), image)).toBe(0);
  });

  test.each([
    ['a tampered payload', async (repo: string) => flipByte(join(repo, 'targets/stable/1.0.0/root.img')), /does not match the signed|tampered/],
    ['a truncated payload', async (repo: string) => truncate(join(repo, 'targets/stable/1.0.0/root.img')), /ended after .* bytes \(truncated/],
    ['a longer payload', async (repo: string) => appendByte(join(repo, 'targets/stable/1.0.0/root.img')), /longer than the .* bytes the signed metadata allows/],
    ['tampered targets metadata', async (repo: string) => editJson(join(repo, 'metadata/targets.json'), (j) => { j.signed.targets['stable/1.0.0/root.img'].length += 1; }), /tampered|not signed|length or hash/],
    ['tampered timestamp', async (repo: string) => editJson(join(repo, 'metadata/timestamp.json'), (j) => { j.signed.version += 5; }), /not signed by the trusted key/],
  ])('%s is refused', async (_name, damage, pattern) => {
    const work = await tempDir();
    const key = makeKey();
    const repo = join(work, 'repo');
    await publish(repo, work, key.signer, '1.0.0');
    await damage(repo);
    const { target, run } = await attempt(repo, key.publicPem, work);
    await expectRefused(run, target, pattern);
  });

  test('expired metadata is refused', async () => {
    const work = await tempDir();
    const key = makeKey();
    const repo = join(work, 'repo');
    await publish(repo, work, key.signer, '1.0.0', { nowMs: Date.now() - 3 * 86_400_000, expiresInDays: 1 });
    const { target, run } = await attempt(repo, key.publicPem, work);
    await expectRefused(run, target, /expired/);
  });

  test('a repository signed by another key is refused', async () => {
    const work = await tempDir();
    const repo = join(work, 'repo');
    await publish(repo, work, makeKey().signer, '1.0.0');
    const { target, run } = await attempt(repo, makeKey().publicPem, work);
    await expectRefused(run, target, /signed by the pinned key.*wrong key/);
  });

  test('replayed metadata (an older snapshot of the same repository) is refused', async () => {
    const work = await tempDir();
    const key = makeKey();
    const repo = join(work, 'repo');
    await publish(repo, work, key.signer, '1.0.0');
    const old = join(work, 'old-repo');
    await cp(repo, old, { recursive: true });
    await publish(repo, work, key.signer, '2.0.0');
    const first = await attempt(repo, key.publicPem, work);
    await first.run();
    await rm(first.target);
    const replay = await attempt(old, key.publicPem, work);
    await expectRefused(replay.run, replay.target, /replayed|rolled-back/);
  });

  test('replayed metadata seen by a node with fresh TUF state is still refused by the highest version seen', async () => {
    const work = await tempDir();
    const key = makeKey();
    const repo = join(work, 'repo');
    await publish(repo, work, key.signer, '1.0.0');
    const old = join(work, 'old-repo');
    await cp(repo, old, { recursive: true });
    await publish(repo, work, key.signer, '2.0.0');
    const first = await attempt(repo, key.publicPem, work);
    await first.run();
    await rm(first.target);
    await rm(join(work, 'state/tuf'), { recursive: true });
    const replay = await attempt(old, key.publicPem, work);
    await expectRefused(replay.run, replay.target, /offers at most 1\.0\.0.*2\.0\.0 was seen before/);
  });

  test('a downgrade below the running version is refused', async () => {
    const work = await tempDir();
    const key = makeKey();
    const repo = join(work, 'repo');
    await publish(repo, work, key.signer, '1.0.0');
    const { target, run } = await attempt(repo, key.publicPem, work, { wanted: '1.0.0', runningVersion: '2.0.0' });
    await expectRefused(run, target, /lower than the running 2\.0\.0: a downgrade/);
  });

  test('key rotation: nodes pinning the old key or the new key both follow the rotated repository', async () => {
    const work = await tempDir();
    const oldKey = makeKey();
    const newKey = makeKey();
    const repo = join(work, 'repo');
    await publish(repo, work, oldKey.signer, '1.0.0');
    const before = await attempt(repo, oldKey.publicPem, join(work, 'a'));
    await before.run(); // a node that trusted root v1 before the rotation
    await rotateRepositoryKey(repo, oldKey.signer, newKey.signer, Date.now());
    const v2 = await publish(repo, work, newKey.signer, '2.0.0');
    for (const [node, pem] of [['a', oldKey.publicPem], ['b', oldKey.publicPem], ['c', newKey.publicPem]] as const) {
      const { target, run } = await attempt(repo, pem, join(work, node), { runningVersion: '1.0.0' });
      await rm(target, { force: true });
      const outcome = await run();
      expect(outcome.kind, node).toBe('installed');
      expect(Buffer.compare(await readFile(target), v2), node).toBe(0);
    }
    await expect(publish(repo, work, oldKey.signer, '3.0.0')).rejects.toThrow(/not this repository's targets key/);
  });
});

async function flipByte(path: string): Promise<void> {
  const b = await readFile(path);
  b[1000] = b[1000]! ^ 0xff;
  await writeFile(path, b);
}
async function truncate(path: string): Promise<void> {
  const b = await readFile(path);
  await writeFile(path, b.subarray(0, b.length - 100));
}
async function appendByte(path: string): Promise<void> {
  const b = await readFile(path);
  await writeFile(path, Buffer.concat([b, Buffer.from([0])]));
}
async function editJson(path: string, edit: (j: any) => void): Promise<void> {
  const j = JSON.parse(await readFile(path, 'utf8'));
  edit(j);
  await writeFile(path, JSON.stringify(j));
}
