import { afterAll, beforeAll, expect, test } from 'vitest';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { makeBundle, tempDir } from '../../unit/update/fixture.js';

// `keel update publish --delta-from OLD_BUNDLE [--zstd-level N]` (issue 14) with real zstd:
// the compressed payload and the delta are published and signed; bad values are refused
// before the repository is touched.
const keel = join(process.cwd(), 'bin/keel');
let work: string;

beforeAll(async () => {
  work = join(await tempDir('keel-publish-delta-'), 'work');
  await mkdir(work);
  await execa(keel, ['update', 'keygen', join(work, 'key')]);
  await makeBundle(work, '1.0.0');
  await makeBundle(work, '2.0.0');
});
afterAll(async () => {
  await rm(join(work, '..'), { recursive: true, force: true });
});

const publish = (...args: string[]) => execa(keel, ['update', 'publish', '--key', join(work, 'key'), '--repo', join(work, 'repo'), ...args], { reject: false });

test('--delta-from: the zstd payload and a delta from 1.0.0 are published beside the raw slot', async () => {
  expect((await publish('--bundle', join(work, 'bundle-1.0.0'), '--zstd-level', '1')).exitCode).toBe(0);
  const run = await publish('--bundle', join(work, 'bundle-2.0.0'), '--delta-from', join(work, 'bundle-1.0.0'), '--zstd-level', '3', '--json');
  expect(run.exitCode, run.stderr).toBe(0);
  expect(JSON.parse(run.stdout).targets).toEqual(['stable/2.0.0/root.img', 'stable/2.0.0/vmlinuz', 'stable/2.0.0/initrd.img', 'stable/2.0.0/root.img.zst', 'stable/2.0.0/root.img.from-1.0.0.zst']);
  const targets = JSON.parse(await readFile(join(work, 'repo/metadata/targets.json'), 'utf8')).signed.targets;
  expect(targets['stable/2.0.0/root.img.from-1.0.0.zst'].custom.keel.from).toEqual({ version: '1.0.0', length: 200_000, sha256: targets['stable/1.0.0/root.img'].hashes.sha256 });
});

test.each([
  [['--zstd-level', '0'], 2, 'keel: --zstd-level: expected a whole number from 1 to 19, found "0"'],
  [['--zstd-level', '20'], 2, 'keel: --zstd-level: expected a whole number from 1 to 19, found "20"'],
  [['--delta-from', '/nonexistent-bundle'], 1, /^keel: \/nonexistent-bundle\/manifest\.json: .*nothing published$/],
  [['--delta-from', 'SELF'], 1, /^keel: --delta-from: bundle 3\.0\.0 is the release being published; expected an older release; nothing published$/],
])('%j: exit %d, one line, nothing published', async (args, code, message) => {
  const bundle = (await makeBundle(work, '3.0.0')).dir;
  const run = await publish('--bundle', bundle, ...args.map((a) => (a === 'SELF' ? bundle : a)));
  expect(run.exitCode).toBe(code);
  expect(run.stderr).toMatch(typeof message === 'string' ? new RegExp(`^${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) : message);
  expect(await readdir(join(work, 'repo/targets/stable'))).not.toContain('3.0.0');
});
