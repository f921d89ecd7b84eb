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
  test('render refuses the unit-file injection at its line, exit 1', async () => {
    const r = await keel(['containers', 'render', join(fixtures, 'invalid/injection.yaml')]);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/injection\.yaml:3:8: error: image: expected an image reference .*found "nginx:1\.25\\n\[Service\]\\nExecStartPre=.*": it contains a control character; refusing this spec/);
  });
  test('render of a default spec names every switch', async () => {
    const r = await keel(['containers', 'render', join(fixtures, 'minimal.yaml')]);
    expect(r.stdout).toContain('# security: no_new_privileges=true, capabilities=CHOWN DAC_OVERRIDE FOWNER KILL NET_BIND_SERVICE SETGID SETUID, read_only=true (tmpfs /tmp /run), userns=auto, seccomp=default, apparmor=default');
    expect(r.stdout).toContain(' --security-opt=no-new-privileges --cap-drop=all --cap-add=CAP_CHOWN,CAP_DAC_OVERRIDE,CAP_FOWNER,CAP_KILL,CAP_NET_BIND_SERVICE,CAP_SETGID,CAP_SETUID --security-opt=seccomp=/usr/share/containers/seccomp.json --userns=auto --read-only --read-only-tmpfs=false --tmpfs=/tmp --tmpfs=/run ');
  });
  test('cloud-config validate: the injection is an error and privileged a warning, each at its line', async () => {
    const file = join(fixtures, 'invalid/injection-cloud-config.yaml');
    const r = await keel(['cloud-config', 'validate', file]);
    expect(r.exitCode).toBe(1);
    const out = r.stdout + r.stderr;
    expect(out).toMatch(/injection-cloud-config\.yaml:7:16: error: keel\.containers\.specs\[0\]\.image: expected an image reference .*it contains a control character/);
    expect(out).toMatch(/injection-cloud-config\.yaml:10:21: warning: keel\.containers\.specs\[1\]\.privileged: this container gets every capability/);
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
