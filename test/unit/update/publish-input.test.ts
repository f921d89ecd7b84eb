import { describe, expect, test } from 'vitest';
import { mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { parseCommandArgs } from '../../../src/cli/command.js';
import { updateCommands } from '../../../src/cli/update.js';
import { readBundle } from '../../../src/update/release-bundle.js';
import { publishRelease } from '../../../src/update/repository-writer.js';
import { parseRolloutSpec } from '../../../src/update/rollout-spec.js';
import { KeelError } from '../../../src/errors.js';
import { makeBundle, makeKey, publish, tempDir } from './fixture.js';

// Hostile publisher input (issue 9, defects 7, 9, 10): every refusal is one line naming the
// option, file or entry and what was expected, and nothing outside the bundle is read and
// nothing outside the repository is written.
const publishCommand = updateCommands.commands.find((c) => c.name === 'publish')!;
const internalText = /Cannot (read|destructure)|TypeError|is not a function|of null|of undefined|Invalid time value/;

async function refusal(run: () => Promise<unknown>): Promise<KeelError> {
  const error = await run().then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(KeelError);
  const message = (error as KeelError).message;
  expect(message).not.toMatch(internalText);
  expect(message).not.toContain('\n');
  return error as KeelError;
}

/** Every file under `dir`, as paths relative to it. */
async function filesUnder(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true }).catch(() => [] as string[])).sort();
}

describe('--expires-days takes a whole number of days from 1 to 3650', () => {
  test.each(['-1', '0', '', '1e-9', 'abc', '1e9', 'NaN', '7days', '0x10', '3651', ' 7', '7.0', '+7'])('%j is a usage error naming the option', async (value) => {
    for (const argv of [['--expires-days', value], [`--expires-days=${value}`]]) {
      const error = await refusal(async () => parseCommandArgs(publishCommand, argv));
      expect(error.kind).toBe('usage');
      expect(error.message).toBe(`--expires-days: expected a whole number of days from 1 to 3650, found ${JSON.stringify(value)}`);
    }
  });

  test.each([['1', 1], ['30', 30], ['3650', 3650]])('%s is accepted', (value, days) => {
    expect(parseCommandArgs(publishCommand, ['--expires-days', value]).values['expires-days']).toBe(String(days));
  });

  test.each([0, -1, 1e-9, 1e9, Number.NaN, 2.5])('publishRelease refuses %d days before writing anything', async (days) => {
    const work = await tempDir();
    const bundle = await readBundle((await makeBundle(work, '1.0.0')).dir);
    await refusal(() => publishRelease({ repoDir: join(work, 'repo'), key: makeKey().signer, bundle, channel: 'stable', nowMs: Date.now(), expiresInDays: days }));
    await expect(stat(join(work, 'repo'))).rejects.toThrow(/ENOENT/);
  });

  test.each(['2025-01-01T00:00Z=0x10', '2025-01-01T00:00Z=', '2025-01-01T00:00Z=1e2', '2025-01-01T00:00Z=101', '2025-01-01T00:00Z=-5'])('--rollout %s is a usage error', (spec) => {
    expect(() => parseRolloutSpec(spec)).toThrow(/^--rollout: expected TIME=PERCENT \(an ISO time, a whole number 0–100\)/);
  });

  test('a parseArgs usage error is one line', async () => {
    const error = await refusal(async () => parseCommandArgs(publishCommand, ['--channel', '-x']));
    expect(error.kind).toBe('usage');
  });
});

describe('manifest paths stay inside the bundle', () => {
  async function hostileBundle(entry: Record<string, unknown>, extra?: (bundle: string) => Promise<void>) {
    const work = await tempDir();
    const bundle = join(work, 'bundle');
    await mkdir(bundle);
    await writeFile(join(work, 'secret'), 'host secret\n');
    await extra?.(bundle);
    await writeFile(join(bundle, 'manifest.json'), JSON.stringify({ version: '1.0.0', files: [entry] }));
    return { work, bundle };
  }

  test.each([
    ['a climbing path', { role: 'slot', path: '../../../../etc/hostname' }, /files\[0\]: "\.\.\/\.\.\/\.\.\/\.\.\/etc\/hostname" climbs out with '\.\.'; expected a path inside .*; nothing published$/],
    ['a path to the directory beside it', { role: 'slot', path: '../secret' }, /files\[0\]: "\.\.\/secret" climbs out/],
    ['an absolute path', { role: 'slot', path: '/etc/hostname' }, /files\[0\]: "\/etc\/hostname" is an absolute path/],
    ['a file name that is ..', { role: 'slot', name: '..', path: 'root.img' }, /files\[0\]: file name "\.\." is not a plain file name/],
  ])('%s is refused naming the entry', async (_name, entry, message) => {
    const { bundle } = await hostileBundle(entry, (b) => writeFile(join(b, 'root.img'), 'image'));
    expect((await refusal(() => readBundle(bundle))).message).toMatch(message);
  });

  test('a symlink that leaves the bundle is refused, and its target is never opened', async () => {
    // The link points at a FIFO: opening it to hash it would block this test forever.
    const { work, bundle } = await hostileBundle({ role: 'slot', path: 'root.img' }, async (b) => {
      await execa('mkfifo', [join(b, '..', 'fifo')]);
      await symlink(join(b, '..', 'fifo'), join(b, 'root.img'));
    });
    expect((await refusal(() => readBundle(bundle))).message).toMatch(/files\[0\]: "root\.img" leads outside .* through a symlink \(to .*fifo\); nothing published/);
    expect(await filesUnder(work)).toEqual(['bundle', 'bundle/manifest.json', 'bundle/root.img', 'fifo', 'secret']);
  });

  test('a FIFO inside the bundle is refused, not read', async () => {
    const { bundle } = await hostileBundle({ role: 'slot', path: 'root.img' }, (b) => execa('mkfifo', [join(b, 'root.img')]).then(() => undefined));
    expect((await refusal(() => readBundle(bundle))).message).toMatch(/files\[0\]: .*root\.img is not a regular file/);
  });
});

describe('--channel and the repository cannot lead outside --repo', () => {
  test.each(['../../x', '..', '.', '/abs', 'a/b', 'Stable', '', '-x', 'x'.repeat(65)])('channel %j is refused before anything is written', async (channel) => {
    const work = await tempDir();
    const bundle = await readBundle((await makeBundle(work, '1.0.0')).dir);
    const before = await filesUnder(work);
    const error = await refusal(() => publishRelease({ repoDir: join(work, 'a/b/repo'), key: makeKey().signer, bundle, channel, nowMs: Date.now() }));
    expect(error.message).toMatch(/^channel .*: expected a channel name .*; nothing published$/);
    expect(await filesUnder(work)).toEqual(before);
  });

  test('the CLI calls a bad --channel a usage error before reading the key', async () => {
    const error = await refusal(() => publishCommand.run({ values: { channel: '../../x', key: '/nonexistent', repo: '/nonexistent', bundle: '/nonexistent' }, positionals: [], json: false, stdout: process.stdout, stderr: process.stderr }));
    expect(error.kind).toBe('usage');
    expect(error.message).toMatch(/^--channel: expected a channel name .*, found "\.\.\/\.\.\/x"$/);
  });

  test('a repository whose targets directory is a symlink out of it is refused; the outside stays empty', async () => {
    const work = await tempDir();
    const key = makeKey().signer;
    await publish(join(work, 'repo'), work, key, '1.0.0');
    await mkdir(join(work, 'outside'));
    await execa('rm', ['-rf', join(work, 'repo/targets')]);
    await symlink(join(work, 'outside'), join(work, 'repo/targets'));
    const bundle = await readBundle((await makeBundle(work, '2.0.0')).dir);
    const error = await refusal(() => publishRelease({ repoDir: join(work, 'repo'), key, bundle, channel: 'stable', nowMs: Date.now() }));
    expect(error.message).toMatch(/leads outside .*repo through a symlink.*; nothing published$/);
    expect(await filesUnder(join(work, 'outside'))).toEqual([]);
  });

  test('metadata that is a symlink out of the repository is not read', async () => {
    const work = await tempDir();
    const key = makeKey().signer;
    await publish(join(work, 'repo'), work, key, '1.0.0');
    await execa('rm', [join(work, 'repo/metadata/targets.json')]);
    await symlink('/etc/hostname', join(work, 'repo/metadata/targets.json'));
    const bundle = await readBundle((await makeBundle(work, '2.0.0')).dir);
    const error = await refusal(() => publishRelease({ repoDir: join(work, 'repo'), key, bundle, channel: 'stable', nowMs: Date.now() }));
    expect(error.message).toMatch(/metadata\/targets\.json: is a symlink; expected the repository's own file; nothing published$/);
    expect(await readFile('/etc/hostname', 'utf8')).not.toBe('');
  });
});

describe('JSON of the wrong shape is named with its file and what was expected', () => {
  test.each([
    ['null', /manifest\.json: expected a release manifest \(a JSON object with "version" and "files"\), found null; nothing published$/],
    ['[]', /manifest\.json: expected a release manifest .*, found a list/],
    ['"x"', /found the string "x"/],
    ['', /found an empty file/],
    ['{', /found text that is not JSON/],
    ['{"version": 1}', /manifest\.json: "version": expected a version like 1\.2\.0, found number 1/],
    ['{"version": "1.0.0", "files": "x"}', /manifest\.json: "files": expected a list of \{name, role, size, sha256\} or an object keyed by role, found the string "x"/],
    ['{"version": "1.0.0", "files": [null]}', /manifest\.json: files\[0\]: expected an object \{name, role, size, sha256\}, found null/],
    ['{"version": "1.0.0", "files": {"slot": null}}', /manifest\.json: files\.slot: expected an object/],
    ['{"version": "1.0.0", "files": [{"role": "slot", "path": 7}]}', /files\[0\]: "path": expected a file name inside the bundle, found number 7/],
    ['{"version": "1.0.0", "files": [{"role": "slot", "path": "root.img", "size": "big"}]}', /files\[0\]: "size": expected a whole number of bytes, found the string "big"/],
    ['{"version": "1.0.0", "files": [{"role": "slot", "path": "root.img", "sha256": null}]}', /files\[0\]: "sha256": expected a hex SHA-256, found null/],
  ])('manifest %s', async (text, message) => {
    const work = await tempDir();
    await writeFile(join(work, 'root.img'), 'image');
    await writeFile(join(work, 'manifest.json'), text);
    expect((await refusal(() => readBundle(work))).message).toMatch(message);
  });

  test.each(['targets', 'snapshot', 'timestamp', '1.root'])('a repository whose %s.json is null is named, not crashed on', async (role) => {
    const work = await tempDir();
    const key = makeKey().signer;
    await publish(join(work, 'repo'), work, key, '1.0.0');
    await writeFile(join(work, `repo/metadata/${role}.json`), 'null');
    const error = await refusal(() => publish(join(work, 'repo'), work, key, '2.0.0'));
    expect(error.message).toMatch(new RegExp(`metadata/${role.replace('.', '\\.')}\\.json: expected TUF .* metadata \\(a JSON object with "signed" and "signatures"\\), found null; the repository's metadata is damaged; nothing published$`));
  });
});

