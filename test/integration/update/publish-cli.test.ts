import { afterAll, beforeAll, expect, test } from 'vitest';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { makeBundle, tempDir } from '../../unit/update/fixture.js';

// `./bin/keel update publish` with hostile arguments and bundles (issue 9, defects 7, 9, 10):
// one line on stderr naming the option or file, exit 2 for usage and 1 for bad input, and
// nothing written outside --repo.
const keel = join(process.cwd(), 'bin/keel');
let work: string;
let bundle: string;

beforeAll(async () => {
  // work sits in a directory of its own, so "nothing written beside it" counts only this
  // test's entries, not those other processes make in the shared temp directory meanwhile.
  work = join(await tempDir('keel-publish-'), 'work');
  await mkdir(work);
  await execa(keel, ['update', 'keygen', join(work, 'key')]);
  bundle = (await makeBundle(work, '1.0.0')).dir;
});
afterAll(async () => {
  await rm(join(work, '..'), { recursive: true, force: true });
});

function publishWith(...args: string[]) {
  return execa(keel, ['update', 'publish', '--key', join(work, 'key'), '--repo', join(work, 'repo'), ...args], { reject: false });
}

test.each(['-1', '0', '', '1e-9', 'abc', '1e9', 'NaN', '7days', '0x10'])('--expires-days %j: exit 2, one line naming the option', async (value) => {
  for (const args of [['--expires-days', value], [`--expires-days=${value}`]]) {
    const run = await publishWith('--bundle', bundle, ...args);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toBe(`keel: --expires-days: expected a whole number of days from 1 to 3650, found ${JSON.stringify(value)}`);
  }
  expect(await readdir(work)).not.toContain('repo');
});

test('--channel ../../x: exit 2, nothing written anywhere', async () => {
  const before = (await readdir(join(work, '..'))).length;
  const run = await publishWith('--bundle', bundle, '--channel', '../../x');
  expect(run.exitCode).toBe(2);
  expect(run.stderr).toMatch(/^keel: --channel: expected a channel name \(.*\), found "\.\.\/\.\.\/x"$/);
  expect(await readdir(work)).not.toContain('repo');
  expect((await readdir(join(work, '..'))).length).toBe(before);
});

test.each([
  ['null', /manifest\.json: expected a release manifest \(a JSON object with "version" and "files"\), found null; nothing published$/],
  ['{"version": "1.0.0", "files": [{"role": "slot", "path": "../../../../etc/hostname"}]}', /manifest\.json: files\[0\]: "\.\.\/\.\.\/\.\.\/\.\.\/etc\/hostname" climbs out with '\.\.'; expected a path inside .*; nothing published$/],
  ['{"version": "1.0.0", "files": [{"role": "slot", "path": "/etc/hostname"}]}', /files\[0\]: "\/etc\/hostname" is an absolute path/],
])('manifest %s: exit 1, one line, no repository', async (manifest, message) => {
  const dir = join(work, `hostile-${Math.random()}`);
  await mkdir(dir);
  await writeFile(join(dir, 'manifest.json'), manifest);
  const run = await publishWith('--bundle', dir);
  expect(run.exitCode).toBe(1);
  expect(run.stderr.split('\n')).toHaveLength(1);
  expect(run.stderr).toMatch(message);
  expect(await readdir(work)).not.toContain('repo');
});

test('a good publish still works and writes only under --repo', async () => {
  const run = await publishWith('--bundle', bundle, '--expires-days', '3650', '--channel', 'beta-1.x');
  expect(run.exitCode, run.stderr).toBe(0);
  expect((await readdir(join(work, 'repo/targets/beta-1.x/1.0.0'))).sort()).toEqual(['initrd.img', 'root.img', 'root.img.zst', 'vmlinuz']);
});
