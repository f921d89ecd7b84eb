import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { cp, mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { createReadStream } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { readBundle } from '../../../src/update/release-bundle.js';
import { publishRelease } from '../../../src/update/repository-writer.js';
import { makePayloads, type PayloadFile } from '../../../src/update/payload-maker.js';
import { installRelease } from '../../../src/update/release-installer.js';
import { spoolDirOf } from '../../../src/update/payload-writer.js';
import { makeKey, tempDir } from '../../unit/update/fixture.js';

// Issue 14: compressed and delta payloads made by Debian's real zstd, published into a real
// signed repository, installed through the same path the agent takes (installRelease →
// stageRelease → payload-install.ts), over a real HTTP server where a test needs one. The slots
// here are random bytes laid out for delta windows, without a verity tree, so the installs allow
// releases without verity (verity-install.test.ts covers the payload forms with one).
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const key = makeKey();
let work: string;
let v1: Buffer;
let v2: Buffer;
let payloads2: PayloadFile[];

async function bundle(version: string, image: Buffer): Promise<string> {
  const dir = join(work, `bundle-${version}`);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'slot.img'), image);
  await writeFile(join(dir, 'vmlinuz'), `kernel ${version}\n`);
  await writeFile(join(dir, 'initramfs.img'), `initramfs ${version}\n`);
  await writeFile(join(dir, 'manifest.json'), JSON.stringify({ version, files: [{ name: 'slot.img', role: 'slot' }, { name: 'vmlinuz', role: 'kernel' }, { name: 'initramfs.img', role: 'initramfs' }] }));
  return dir;
}

/** Publishes `version` into `repo` with its payloads (and deltas from `from`); returns them. */
async function publish(repo: string, version: string, image: Buffer, from: string[] = [], edit?: (p: PayloadFile[]) => PayloadFile[]): Promise<PayloadFile[]> {
  const b = await readBundle(await bundle(version, image));
  const payloads = await makePayloads({ bundle: b, from: await Promise.all(from.map((d) => readBundle(d))), workDir: join(work, `payloads-${version}-${Math.random()}`), level: 3 });
  const used = edit ? edit(payloads) : payloads;
  await publishRelease({ repoDir: repo, key: key.signer, bundle: b, channel: 'stable', nowMs: Date.now(), payloads: used });
  return used;
}

/** A node's view: its own state directory, a running slot holding `running` (plus partition slack), a target. */
async function node(name: string, running: Buffer) {
  const dir = join(work, name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'running'), Buffer.concat([running, randomBytes(4096)]));
  const notes: string[] = [];
  const install = (repo: string) =>
    installRelease({ repo, trustPem: key.publicPem, target: join(dir, 'slot-b'), stateDir: join(dir, 'state'), channel: 'stable', nowMs: Date.now(), source: join(dir, 'running'), runningVersion: '1.0.0', onNote: (m) => notes.push(m), allowWithoutVerity: true });
  return { dir, notes, install };
}

beforeAll(async () => {
  work = await tempDir('keel-delta-');
  v1 = randomBytes(2 << 20);
  v2 = Buffer.concat([v1.subarray(0, 1 << 20), randomBytes(8192), v1.subarray((1 << 20) + 8192), randomBytes(4096)]);
  await mkdir(join(work, 'repo'));
  await publish(join(work, 'repo'), '1.0.0', v1);
  payloads2 = await publish(join(work, 'repo'), '2.0.0', v2, [join(work, 'bundle-1.0.0')]);
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** A copy of the good repository in which `mutate` damages one file. */
async function repoWith(name: string, mutate: (repo: string) => Promise<void>): Promise<string> {
  const repo = join(work, name);
  await cp(join(work, 'repo'), repo, { recursive: true });
  await mutate(repo);
  return repo;
}

const deltaPath = (repo: string) => join(repo, 'targets/stable/2.0.0/slot.img.from-1.0.0.zst');
const zstPath = (repo: string) => join(repo, 'targets/stable/2.0.0/slot.img.zst');

describe('publishing', () => {
  test('the release has the raw slot, its zstd form and a delta from 1.0.0, signed with the slot they produce', async () => {
    const targets = JSON.parse(await readFile(join(work, 'repo/metadata/targets.json'), 'utf8')).signed.targets;
    const delta = targets['stable/2.0.0/slot.img.from-1.0.0.zst'];
    expect(delta.custom.keel).toEqual({ version: '2.0.0', channel: 'stable', role: 'slot-delta', slot: { length: v2.length, sha256: sha(v2) }, windowLog: 22, from: { version: '1.0.0', length: v1.length, sha256: sha(v1) } });
    expect(delta.hashes.sha256).toBe(sha(await readFile(deltaPath(join(work, 'repo')))));
    expect(targets['stable/2.0.0/slot.img.zst'].custom.keel).toMatchObject({ role: 'slot-zstd', slot: { length: v2.length, sha256: sha(v2) } });
    // random bytes do not compress; a delta of them is the changed bytes and little more
    expect(delta.length).toBeLessThan(16_000);
  });
});

describe('installing', () => {
  test('running slot = the delta base: the delta is streamed, only its bytes are downloaded, the slot is exact', async () => {
    const n = await node('match', v1);
    const outcome = await n.install(join(work, 'repo'));
    expect(n.notes).toEqual([]);
    expect(outcome).toMatchObject({ kind: 'installed', write: { payload: 'delta', downloaded: payloads2.find((p) => p.role === 'slot-delta')!.size } });
    expect(sha(await readFile(join(n.dir, 'slot-b')))).toBe(sha(v2));
    // the base copy and the spool are gone
    expect(await readdir(spoolDirOf(join(n.dir, 'state')))).toEqual([]);
  });

  test('running slot is another base: no delta, the zstd payload instead, and a note saying why', async () => {
    const n = await node('other-base', randomBytes(v1.length));
    const outcome = await n.install(join(work, 'repo'));
    expect(outcome).toMatchObject({ write: { payload: 'zstd', downloaded: payloads2.find((p) => p.role === 'slot-zstd')!.size } });
    expect(n.notes).toEqual([expect.stringMatching(/^no delta of 2\.0\.0 starts from the running slot \(offered from 1\.0\.0 /)]);
    expect(sha(await readFile(join(n.dir, 'slot-b')))).toBe(sha(v2));
  });

  test.each([
    ['a bit flipped in the delta', async (r: string) => flip(deltaPath(r), 100)],
    ['a bit flipped in its last byte', async (r: string) => flip(deltaPath(r), -1)],
    ['the delta truncated', async (r: string) => truncateBy(deltaPath(r), 10)],
    ['the delta longer than signed', async (r: string) => writeFile(deltaPath(r), Buffer.concat([await readFile(deltaPath(r)), Buffer.from('x')]))],
    ['the delta missing', async (r: string) => rm(deltaPath(r))],
  ])('%s: the delta is refused and the zstd payload installs the exact slot', async (name, mutate) => {
    const n = await node(`tamper-${name.replace(/\W+/g, '-')}`, v1);
    const outcome = await n.install(await repoWith(`repo-${name.replace(/\W+/g, '-')}`, mutate));
    expect(outcome).toMatchObject({ write: { payload: 'zstd' } });
    expect(n.notes).toEqual([expect.stringMatching(/^delta payload stable\/2\.0\.0\/slot\.img\.from-1\.0\.0\.zst not used: .*; falling back$/)]);
    expect(sha(await readFile(join(n.dir, 'slot-b')))).toBe(sha(v2));
  });

  test('a bit flipped in the zstd payload as well: the raw slot installs it', async () => {
    const n = await node('both-damaged', randomBytes(1000));
    const outcome = await n.install(await repoWith('repo-zst-flip', (r) => flip(zstPath(r), 5000)));
    expect(outcome).toMatchObject({ write: { payload: 'raw', downloaded: v2.length } });
    expect(n.notes.at(-1)).toMatch(/^zstd payload .* not used: .*SHA-256 .* does not match the signed .*\(tampered\); falling back$|zstd could not decode/);
    expect(sha(await readFile(join(n.dir, 'slot-b')))).toBe(sha(v2));
  });

  test('a delta made from another base, signed as if from 1.0.0: decodes wrong, refused, zstd installs', async () => {
    const repo = join(work, 'repo-wrong-base');
    await mkdir(repo);
    // 0.9.0 is 1.0.0 with 4 KiB more at its end: zstd's matches count back from the base's end, so
    // a delta from 0.9.0 decoded against 1.0.0 reads every match 4 KiB off.
    const v0 = Buffer.concat([v1, randomBytes(4096)]);
    await publish(repo, '0.9.0', v0);
    await publish(repo, '1.0.0', v1);
    const b1 = (await readBundle(join(work, 'bundle-1.0.0'))).files.find((f) => f.role === 'slot')!;
    // The publisher's mistake (or a compromised build) that signing cannot catch: the decoded slot hash does.
    await publish(repo, '2.0.0', v2, [join(work, 'bundle-0.9.0')], (ps) => ps.map((p) => (p.from ? { ...p, from: { version: '1.0.0', length: b1.size, sha256: b1.sha256 } } : p)));
    const n = await node('wrong-base', v1);
    const outcome = await n.install(repo);
    expect(outcome).toMatchObject({ write: { payload: 'zstd' } });
    expect(n.notes[0]).toMatch(/^delta payload .* not used: .*(zstd could not decode|decodes to)/);
    expect(sha(await readFile(join(n.dir, 'slot-b')))).toBe(sha(v2));
  });

  test('deltas from two bases of different lengths: the one whose base the running slot is', async () => {
    const repo = join(work, 'repo-two-bases');
    await mkdir(repo);
    const v1b = Buffer.concat([v1, randomBytes(4096)]);
    await publish(repo, '1.0.0', v1);
    await publish(repo, '1.0.1', v1b);
    await publish(repo, '2.0.0', v2, [join(work, 'bundle-1.0.0'), join(work, 'bundle-1.0.1')]);
    const n = await node('two-bases', v1b);
    const outcome = await n.install(repo);
    expect(n.notes).toEqual([]);
    expect(outcome).toMatchObject({ write: { payload: 'delta', downloaded: (await stat(join(repo, 'targets/stable/2.0.0/slot.img.from-1.0.1.zst'))).size } });
    expect(sha(await readFile(join(n.dir, 'slot-b')))).toBe(sha(v2));
  });

  test('a repository signed by another key is refused before any payload is fetched', async () => {
    const n = await node('wrong-key', v1);
    const other = makeKey();
    const refused = installRelease({ repo: join(work, 'repo'), trustPem: other.publicPem, target: join(n.dir, 'slot-b'), stateDir: join(n.dir, 'state'), channel: 'stable', nowMs: Date.now(), source: join(n.dir, 'running'), allowWithoutVerity: true });
    await expect(refused).rejects.toMatchObject({ kind: 'verification' });
    await expect(stat(join(n.dir, 'slot-b'))).rejects.toThrow(/ENOENT/);
  });

  test('replayed metadata (the repository before 2.0.0 and its delta) is refused after 2.0.0 was seen', async () => {
    const repo = join(work, 'repo-replay');
    await mkdir(repo);
    await publish(repo, '1.0.0', v1);
    const before = join(work, 'replay-metadata-1');
    await cp(join(repo, 'metadata'), before, { recursive: true });
    await publish(repo, '2.0.0', v2, [join(work, 'bundle-1.0.0')]);
    const n = await node('replay', v1);
    await n.install(repo);
    await rm(join(repo, 'metadata'), { recursive: true });
    await cp(before, join(repo, 'metadata'), { recursive: true });
    await expect(n.install(repo)).rejects.toMatchObject({ kind: 'verification' });
  });

  test('an interrupted delta download resumes from the spooled bytes with a Range request', async () => {
    const delta = await readFile(deltaPath(join(work, 'repo')));
    const cut = Math.floor(delta.length / 2);
    const ranges: string[] = [];
    let first = true;
    const server = http.createServer(async (req, res) => {
      const path = join(work, 'repo', decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
      const info = await stat(path).catch(() => undefined);
      if (!info?.isFile()) return void res.writeHead(404).end();
      const start = Number(/^bytes=(\d+)-$/.exec(String(req.headers.range ?? ''))?.[1] ?? 0);
      if (path.endsWith('.from-1.0.0.zst')) ranges.push(String(req.headers.range ?? 'none'));
      res.writeHead(start ? 206 : 200, { 'content-length': info.size - start, ...(start && { 'content-range': `bytes ${start}-${info.size - 1}/${info.size}` }) });
      if (path.endsWith('.from-1.0.0.zst') && first) {
        first = false;
        // The bytes reach the client before the connection drops (a destroy at once can discard them).
        res.write(delta.subarray(0, cut), () => setTimeout(() => res.destroy(), 300));
        return;
      }
      createReadStream(path, { start }).pipe(res);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const n = await node('resume', v1);
      // The first run's delta breaks off: it falls back to zstd, which completes; the spool stays.
      const firstRun = await n.install(url);
      expect(firstRun).toMatchObject({ write: { payload: 'zstd' } });
      expect(n.notes.at(-1)).toMatch(/broke off|ended after/);
      const spooled = await readdir(spoolDirOf(join(n.dir, 'state')));
      expect(spooled).toEqual([`${sha(delta)}.partial`]);
      // A node that has not installed yet (fresh target, same state) resumes the delta where it stopped.
      await rm(join(n.dir, 'slot-b'));
      await rm(join(n.dir, 'state/tuf'), { recursive: true });
      const second = await installRelease({ repo: url, trustPem: key.publicPem, target: join(n.dir, 'slot-b'), stateDir: join(n.dir, 'state'), channel: 'stable', nowMs: Date.now(), source: join(n.dir, 'running'), allowWithoutVerity: true });
      expect(second).toMatchObject({ write: { payload: 'delta', resumedFrom: cut, downloaded: delta.length - cut } });
      expect(ranges).toEqual(['none', `bytes=${cut}-`]);
      expect(sha(await readFile(join(n.dir, 'slot-b')))).toBe(sha(v2));
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});

async function flip(path: string, at: number): Promise<void> {
  const bytes = await readFile(path);
  const i = at < 0 ? bytes.length + at : at;
  bytes[i] = bytes[i]! ^ 0x10;
  await writeFile(path, bytes);
}

async function truncateBy(path: string, n: number): Promise<void> {
  const bytes = await readFile(path);
  await writeFile(path, bytes.subarray(0, bytes.length - n));
}
