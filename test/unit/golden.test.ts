/**
 * Golden fixtures: each test/golden/<name>/user-data is applied with the built CLI
 * (`./bin/keel cloud-config apply --root TMP --from-file F`) into a fresh base root, and
 * what it created or changed must match test/golden/<name>/tree.txt (paths, modes,
 * owners, link targets, contents). `UPDATE_GOLDEN=1` rewrites the tree.txt files.
 * A second apply of the same user-data must change nothing (once per instance).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { makeBaseRoot, snapshot, treeText } from '../golden/tree.js';

const repo = resolve(import.meta.dirname, '../..');
const keel = join(repo, 'bin/keel');
const goldenDir = join(repo, 'test/golden');
const fixtures = readdirSync(goldenDir, { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join(goldenDir, d.name, 'user-data')))
  .map((d) => d.name)
  .sort();
const update = process.env.UPDATE_GOLDEN === '1';

/** Fixed clock, so shadow dates and the instance record are the same on every run. */
const env = { ...process.env, SOURCE_DATE_EPOCH: '1700000000', KEEL_DEBUG: '' };

function run(args: string[], input?: string) {
  const r = spawnSync(keel, args, { env, encoding: 'utf8', ...(input !== undefined ? { input } : {}) });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

let tmp: string;
beforeAll(async () => {
  if (!existsSync(keel)) throw new Error(`${keel} is missing: run 'node scripts/build.mjs' (make build) first`);
  tmp = await mkdtemp(join(tmpdir(), 'keel-golden-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function freshRoot(name: string): Promise<string> {
  const root = join(tmp, name, 'root');
  await mkdir(root, { recursive: true });
  await makeBaseRoot(root);
  return root;
}

test('there are at least 8 golden fixtures', () => {
  expect(fixtures.length).toBeGreaterThanOrEqual(8);
});

describe.each(fixtures)('golden %s', (name) => {
  test('apply produces tree.txt; a second apply changes nothing', async () => {
    const root = await freshRoot(name);
    const userData = join(goldenDir, name, 'user-data');
    const before = await snapshot(root);
    const first = run(['cloud-config', 'apply', '--root', root, '--from-file', userData]);
    expect(first.stderr).not.toMatch(/error/);
    expect(first.code, first.stderr).toBe(0);
    const after = await snapshot(root);
    const tree = treeText(before, after);
    const expectedPath = join(goldenDir, name, 'tree.txt');
    if (update) await writeFile(expectedPath, tree);
    expect(tree).toBe(await readFile(expectedPath, 'utf8'));

    const second = run(['cloud-config', 'apply', '--root', root, '--from-file', userData]);
    expect(second.code).toBe(0);
    expect(second.stderr).toMatch(/was already applied .*; nothing to do \(use --force to apply again\)/);
    expect(treeText(after, await snapshot(root))).toBe('\n');
  });

  test('plan prints the operations and writes nothing', async () => {
    const root = await freshRoot(`${name}-plan`);
    const before = await snapshot(root);
    const r = run(['cloud-config', 'plan', '--root', root, '--from-file', join(goldenDir, name, 'user-data')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^# instance iid-local-[0-9a-f]{16} .*offline root: \d+ operations\n/);
    expect(r.stdout).toMatch(/record-instance iid-local-/);
    expect(treeText(before, await snapshot(root))).toBe('\n');
  });
});

describe('the apply command', () => {
  test('an invalid config prints located problems, exits 1 and writes nothing', async () => {
    const root = await freshRoot('invalid');
    const before = await snapshot(root);
    const file = join(tmp, 'invalid.yaml');
    await writeFile(file, '#cloud-config\nhostname: ok\nusers:\n  - name: a\n    groups: 7\nwrite_files:\n  - path: relative/path\n    content: x\n');
    const r = run(['cloud-config', 'apply', '--root', root, '--from-file', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^${file}:5:13: error: users\\[0\\]\\.groups: `, 'm'));
    expect(r.stderr).toMatch(new RegExp(`^${file}:7:11: error: write_files\\[0\\]\\.path: `, 'm'));
    expect(r.stderr).toMatch(/is not a valid cloud-config; nothing applied/);
    expect(treeText(before, await snapshot(root))).toBe('\n');
  });

  test('a conflicting config exits 1 and writes nothing', async () => {
    const root = await freshRoot('conflict');
    const before = await snapshot(root);
    const r = run(['cloud-config', 'apply', '--root', root, '--from-file', '-'], '#cloud-config\nwrite_files:\n  - path: /etc/a\n    content: one\n  - path: /etc/a\n    content: two\n');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/\/etc\/a is written twice/);
    expect(treeText(before, await snapshot(root))).toBe('\n');
  });

  test('a symlink in the root pointing outside is refused with unsafe path, nothing lands outside', async () => {
    const root = await freshRoot('escape');
    await mkdir(join(tmp, 'escape', 'outside'));
    const { symlink } = await import('node:fs/promises');
    await symlink('../../outside', join(root, 'etc', 'evil'));
    const r = run(['cloud-config', 'apply', '--root', root, '--from-file', '-'], '#cloud-config\nwrite_files:\n  - path: /etc/evil/x\n    content: x\n');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/failed at operation 1 \(write-file \/etc\/evil\/x .*leads outside the root through the symlink \/etc\/evil/);
    expect(readdirSync(join(tmp, 'escape', 'outside'))).toEqual([]);
  });

  test.each([
    [[], /no user-data: expected --from-file F or --datasource NAME/],
    [['--from-file', 'a', '--datasource', 'nocloud'], /either --from-file or --datasource, not both/],
    [['--bogus'], /unknown option/i],
  ])('usage error %j exits 2', (args, message) => {
    const r = run(['cloud-config', 'apply', '--root', tmp, ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  test('--dry-run prints the plan and writes nothing; --json gives the operations', async () => {
    const root = await freshRoot('dry');
    const before = await snapshot(root);
    const file = join(goldenDir, 'units', 'user-data');
    const r = run(['cloud-config', 'apply', '--dry-run', '--root', root, '--from-file', file]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/daemon-reload\n/);
    expect(r.stdout).toMatch(/dry run: nothing written\n$/);
    const j = run(['cloud-config', 'plan', '--json', '--root', root, '--from-file', file]);
    const plan = JSON.parse(j.stdout) as { operations: { kind: string; file?: { path: string; mode: string; content?: string } }[] };
    expect(plan.operations.filter((o) => o.kind === 'daemon-reload')).toHaveLength(1);
    expect(plan.operations.find((o) => o.file?.path === '/etc/systemd/system/app.service')?.file).toMatchObject({ mode: '0644', content: expect.stringContaining('Description=demo app') });
    expect(treeText(before, await snapshot(root))).toBe('\n');
  });

  test('--force applies the same instance again; apply --json summarises', async () => {
    const root = await freshRoot('force');
    const file = join(goldenDir, 'hostname-timezone', 'user-data');
    expect(run(['cloud-config', 'apply', '--root', root, '--from-file', file]).code).toBe(0);
    await writeFile(join(root, 'etc/hostname'), 'changed-by-hand\n');
    expect(run(['cloud-config', 'apply', '--root', root, '--from-file', file]).code).toBe(0);
    expect(await readFile(join(root, 'etc/hostname'), 'utf8')).toBe('changed-by-hand\n');
    const forced = run(['cloud-config', 'apply', '--json', '--force', '--root', root, '--from-file', file]);
    expect(forced.code).toBe(0);
    const report = JSON.parse(forced.stdout) as { instanceId: string; outcomes: { status: string }[]; failures: string[] };
    expect(report.instanceId).toMatch(/^iid-local-[0-9a-f]{16}$/);
    expect(report.failures).toEqual([]);
    expect(await readFile(join(root, 'etc/hostname'), 'utf8')).toBe('node-7.example.net\n');
  });

  test('gzipped user-data on stdin is applied like the plain text', async () => {
    const { gzipSync } = await import('node:zlib');
    const root = await freshRoot('gzip');
    const text = await readFile(join(goldenDir, 'hostname-timezone', 'user-data'));
    const r = spawnSync(keel, ['cloud-config', 'apply', '--root', root, '--from-file', '-'], { env, input: gzipSync(text) });
    expect(r.status, r.stderr.toString()).toBe(0);
    expect(await readFile(join(root, 'etc/hostname'), 'utf8')).toBe('node-7.example.net\n');
  });
});
