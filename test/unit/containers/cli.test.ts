// `keel containers` through the built bundle (./bin/keel): render, exit codes, --help.
import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';

const root = join(import.meta.dirname, '../../..');
const keel = (args: string[]) => execa(join(root, 'bin/keel'), args, { reject: false, cwd: root });
const fixtures = join(root, 'test/fixtures/containers');

describe('keel containers', () => {
  test('render prints the fixture unit', async () => {
    const r = await keel(['containers', 'render', join(fixtures, 'api.yaml')]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout + '\n').toBe(readFileSync(join(fixtures, 'api.service'), 'utf8'));
  });
  test('render --systemd-version 254 uses RestartSteps=', async () => {
    const r = await keel(['containers', 'render', '--systemd-version', '254', join(fixtures, 'minimal.yaml')]);
    expect(r.stdout).toContain('RestartSteps=6');
  });
  test('render of an invalid spec: located problems on stderr, exit 1', async () => {
    const r = await keel(['containers', 'render', join(root, 'test/fixtures/containers/invalid/bad-restart.yaml')]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/bad-restart\.yaml:3:10: error: restart: expected no, always/);
  });
  test('a missing file is exit 1, a missing argument is usage (exit 2)', async () => {
    expect((await keel(['containers', 'render', '/nonexistent.yaml'])).exitCode).toBe(1);
    expect((await keel(['containers', 'render'])).exitCode).toBe(2);
    expect((await keel(['containers', 'status'])).exitCode).toBe(2);
  });
  test.each(['list', 'status', 'logs', 'restart', 'apply', 'render', 'supervise', 'endpoints'])('%s --help', async (c) => {
    const r = await keel(['containers', c, '--help']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^usage: keel containers ${c}`));
  });
  test('endpoints without any etcd endpoint is a usage error', async () => {
    expect((await keel(['containers', 'endpoints', '--root', '/nonexistent'])).exitCode).toBe(2);
  });
});
