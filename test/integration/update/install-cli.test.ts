import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { cp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { makeKey, publish, tempDir } from '../../unit/update/fixture.js';
import { serveDirectory, type StaticServer } from './static-server.js';

// `./bin/keel update install` against repositories served by a real HTTP server on
// 127.0.0.1: a good one installs byte-exactly, every bad one exits 1 with a clear message
// and leaves no target behind.
const keel = join(process.cwd(), 'bin/keel');
let work: string;
let server: StaticServer;
const key = makeKey();
let v2: Buffer;

async function repoVariant(name: string, damage: (repo: string) => Promise<void>): Promise<string> {
  await cp(join(work, 'good'), join(work, name), { recursive: true });
  await damage(join(work, name));
  return `${server.url}/${name}`;
}

async function install(repo: string, trust: string, extra: string[] = [], state = `state-${Math.random()}`) {
  const target = join(work, `slot-${Math.random()}.img`);
  const run = await execa(keel, ['update', 'install', '--repo', repo, '--target', target, '--trust', trust, '--state', join(work, state), '--root', join(work, 'root'), ...extra], { reject: false });
  return { run, target };
}

beforeAll(async () => {
  work = await tempDir('keel-install-');
  await publish(join(work, 'good'), work, key.signer, '1.0.0');
  v2 = await publish(join(work, 'good'), work, key.signer, '2.0.0', { size: 3_000_000 });
  await writeFile(join(work, 'trust.pub'), key.publicPem);
  await writeFile(join(work, 'other.pub'), makeKey().publicPem);
  server = await serveDirectory(work);
});
afterAll(async () => {
  await server?.close();
  await rm(work, { recursive: true, force: true });
});

describe('keel update install over HTTP', () => {
  test('a good repository installs the newest release byte-exactly', async () => {
    const { run, target } = await install(`${server.url}/good`, join(work, 'trust.pub'), ['--json']);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ installed: '2.0.0', bytes: 3_000_000 });
    expect(Buffer.compare(await readFile(target), v2)).toBe(0);
  });

  const flip = async (path: string) => {
    const b = await readFile(path);
    b[b.length >> 1] = b[b.length >> 1]! ^ 1;
    await writeFile(path, b);
  };
  const cases: [string, (repo: string) => Promise<void>, RegExp][] = [
    ['tampered payload', (r) => flip(join(r, 'targets/stable/2.0.0/root.img')), /SHA-256 .* does not match the signed .* \(tampered\)/],
    ['truncated payload', async (r) => writeFile(join(r, 'targets/stable/2.0.0/root.img'), (await readFile(join(r, 'targets/stable/2.0.0/root.img'))).subarray(0, 1000)), /ended after 1000 of 3000000 bytes/],
    ['tampered metadata', (r) => flip(join(r, 'metadata/targets.json')), /refusing to install/],
    ['missing metadata', (r) => rm(join(r, 'metadata/snapshot.json')), /missing from the repository/],
  ];
  test.each(cases)('a %s is refused', async (name, damage, message) => {
    const repo = await repoVariant(name.replace(/ /g, '-'), damage);
    const { run, target } = await install(repo, join(work, 'trust.pub'));
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(message);
    await expect(stat(target)).rejects.toThrow(/ENOENT/);
  });

  test('a repository signed by another key is refused', async () => {
    const { run, target } = await install(`${server.url}/good`, join(work, 'other.pub'));
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(/no root metadata .* is signed by the pinned key/);
    await expect(stat(target)).rejects.toThrow(/ENOENT/);
  });

  test('expired metadata is refused', async () => {
    await publish(join(work, 'expired'), work, key.signer, '1.0.0', { nowMs: Date.now() - 10 * 86_400_000, expiresInDays: 2 });
    const { run, target } = await install(`${server.url}/expired`, join(work, 'trust.pub'));
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(/metadata has expired/);
    await expect(stat(target)).rejects.toThrow(/ENOENT/);
  });

  test('replayed metadata is refused after the node saw newer metadata', async () => {
    await publish(join(work, 'replay'), work, key.signer, '1.0.0');
    await cp(join(work, 'replay'), join(work, 'replay-old'), { recursive: true });
    await publish(join(work, 'replay'), work, key.signer, '2.0.0');
    const first = await install(`${server.url}/replay`, join(work, 'trust.pub'), [], 'state-replay');
    expect(first.run.exitCode, first.run.stderr).toBe(0);
    const { run, target } = await install(`${server.url}/replay-old`, join(work, 'trust.pub'), [], 'state-replay');
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(/replayed/);
    await expect(stat(target)).rejects.toThrow(/ENOENT/);
  });

  test('a downgrade below the running version is refused', async () => {
    await writeFile(join(work, 'root.version'), '');
    const root = join(work, 'root');
    await execa('mkdir', ['-p', join(root, 'usr/lib/keel')]);
    await writeFile(join(root, 'usr/lib/keel/version'), '2.0.0\n');
    try {
      const { run, target } = await install(`${server.url}/good`, join(work, 'trust.pub'), ['--version', '1.0.0']);
      expect(run.exitCode).toBe(1);
      expect(run.stderr).toMatch(/1\.0\.0 is lower than the running 2\.0\.0: a downgrade; refusing to install/);
      await expect(stat(target)).rejects.toThrow(/ENOENT/);
    } finally {
      await rm(join(root, 'usr'), { recursive: true });
    }
  });

  test('--help and a usage error', async () => {
    const help = await execa(keel, ['update', 'install', '--help']);
    expect(help.stdout).toMatch(/--trust KEYFILE/);
    const usage = await execa(keel, ['update', 'install', '--bogus'], { reject: false });
    expect(usage.exitCode).toBe(2);
  });
});

export { readdir };
