// The supervisor against real systemd (PID 1 in namespaces), real podman with runc and a
// busybox image loaded from an archive in /var/lib/keel/images. One guest, scenarios in order.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { execa } from 'execa';
import { repoRoot } from '../../harness/rootfs.js';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startGuest, testImage, type Guest } from './guest.js';

let g: Guest;
beforeAll(async () => {
  g = await startGuest('containers');
});
afterAll(async () => {
  await g?.stop();
});

const unitFile = (name: string) => join(g.sys.root, 'run/systemd/system', `keel-container-${name}.service`);

describe('keel-supervisor in a systemd guest', () => {
  test('a new spec: image loaded from the archive, unit written, container running', async () => {
    expect((await g.podman(['image', 'exists', testImage])).exitCode).toBe(1);
    await g.writeSpec('web', `name: web\nimage: ${testImage}\ncommand: [sh, -c, 'echo "hello $GREETING"; exec sleep 3600']\nenvironment: {GREETING: one}\nresources: {memory: 64M, cpus: 0.5, pids: 50}\n`);
    const s = await g.until('web active', async () => { const s = await g.state('web'); return s.activeState === 'active' && s; });
    expect(s.subState).toBe('running');
    expect((await g.podman(['image', 'exists', testImage])).exitCode).toBe(0);
    expect(await g.supervisorLog()).toContain(`ensure image ${testImage} (for web): loaded`);
    const ps = await g.podman(['ps', '--format', '{{.Names}} {{.Status}}']);
    expect(ps.stdout).toMatch(/^web Up/m);
    // Resource limits are set as unit properties (enforced only in a VM; see DESIGN.md).
    const { raw } = await g.bus.getUnitProperties('keel-container-web.service');
    expect(raw).toMatchObject({ MemoryMax: 64 * 1024 * 1024, CPUQuotaPerSecUSec: 500_000, TasksMax: 50 });
    const journal = await g.sys.exec(['journalctl', '-u', 'keel-container-web.service', '-o', 'cat', '--no-pager']);
    expect(journal.stdout).toContain('hello one');
  });

  test('spec change: the unit is rewritten and the container restarted with the new spec', async () => {
    const before = await g.state('web');
    await g.writeSpec('web', `name: web\nimage: ${testImage}\ncommand: [sh, -c, 'echo "hello $GREETING"; exec sleep 3600']\nenvironment: {GREETING: two}\nresources: {memory: 64M, cpus: 0.5, pids: 50}\n`);
    const after = await g.until('web restarted', async () => { const s = await g.state('web'); return s.activeState === 'active' && s.invocationId !== before.invocationId && s; });
    expect(after.subState).toBe('running');
    expect(await readFile(unitFile('web'), 'utf8')).toContain('--env GREETING=two');
    await g.until('new output in the journal', async () => (await g.sys.exec(['journalctl', '-u', 'keel-container-web.service', '-o', 'cat', '--no-pager'])).stdout.includes('hello two'));
    // The CLI from the host, through --root (bus and journal under the guest's root).
    const keel = (args: string[]) => execa(join(repoRoot, 'bin/keel'), ['containers', ...args, '--root', g.sys.root], { reject: false });
    expect((await keel(['logs', 'web'])).stdout).toContain('hello two');
    const status = await keel(['status', 'web', '--json']);
    expect(status.exitCode).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ name: 'web', unit: 'keel-container-web.service', activeState: 'active', subState: 'running', spec: { valid: true, image: testImage } });
    const restarted = await keel(['restart', 'web', '--json']);
    expect(JSON.parse(restarted.stdout)).toEqual({ name: 'web', unit: 'keel-container-web.service', result: 'done' });
  });

  test('invalid spec: a located error, and the running container is left as it was', async () => {
    const before = await g.state('web');
    const unitBefore = await readFile(unitFile('web'), 'utf8');
    await g.writeSpec('web', `name: web\nimage: ${testImage}\nrestart: sometimes\n`);
    await g.until('the problem is logged with its location', async () => (await g.supervisorLog()).includes('/etc/keel/containers/web.yaml:3:10: error: restart: expected no, always, on-failure, on-failure:N or unless-stopped, found "sometimes"; this container is left as it was'));
    // A later pass (rescans every 5 s) must not touch it either.
    const dry = await execa(join(repoRoot, 'bin/keel'), ['containers', 'apply', '--dry-run', '--json', '--root', g.sys.root], { reject: false });
    expect(dry.exitCode).toBe(1);
    const report = JSON.parse(dry.stdout) as { problems: string[]; actions: string[]; kept: string[] };
    expect(report.kept).toEqual(['web']);
    expect(report.actions).toEqual([]);
    expect(report.problems[0]).toMatch(/web\.yaml:3:10: error: restart: /);
    const after = await g.state('web');
    expect(after.activeState).toBe('active');
    expect(after.invocationId).toBe(before.invocationId);
    expect(await readFile(unitFile('web'), 'utf8')).toBe(unitBefore);
  });

  test('spec removed: the container is stopped and its unit is gone', async () => {
    await g.removeSpec('web');
    await g.until('web unit gone', async () => !existsSync(unitFile('web')) && (await g.state('web')).loadState === 'not-found');
    expect((await g.podman(['ps', '-a', '--format', '{{.Names}}'])).stdout).not.toMatch(/^web$/m);
  });

  test('crash: restarted with a doubling backoff', async () => {
    await g.writeSpec('crasher', `name: crasher\nimage: ${testImage}\ncommand: [sh, -c, 'sleep 0.2; exit 3']\nrestart: always\nrestart_delay: 300ms\nrestart_max_delay: 2400ms\n`);
    await g.until('four failures seen', async () => (await g.supervisorLog()).includes('container crasher failed (4 in a row)'));
    const delays = [...(await g.supervisorLog()).matchAll(/container crasher failed \((\d+) in a row\); restarting in (\d+) ms/g)].map((m) => [Number(m[1]), Number(m[2])]);
    expect(delays.slice(0, 4)).toEqual([[1, 300], [2, 600], [3, 1200], [4, 2400]]);
    const s = await g.state('crasher');
    expect(s.result).toBe('exit-code');
    await g.removeSpec('crasher');
    await g.until('crasher gone', async () => (await g.state('crasher')).loadState === 'not-found');
  });

  test('health failure: restarted after retries failed probes', async () => {
    await g.writeSpec('sick', `name: sick\nimage: ${testImage}\ncommand: [sh, -c, 'touch /tmp/ok; exec sleep 3600']\nhealth:\n  command: [test, -f, /tmp/ok]\n  interval: 500ms\n  timeout: 5s\n  retries: 2\n`);
    const first = await g.until('sick active', async () => { const s = await g.state('sick'); return s.activeState === 'active' && s; });
    const statusFile = join(g.sys.root, 'run/keel/containers/sick.json');
    await g.until('sick healthy', async () => JSON.parse(await readFile(statusFile, 'utf8')).health === 'healthy');
    expect((await g.podman(['exec', 'sick', 'rm', '/tmp/ok'])).exitCode).toBe(0);
    const again = await g.until('sick restarted', async () => { const s = await g.state('sick'); return s.activeState === 'active' && s.invocationId !== first.invocationId && s; });
    expect(again.subState).toBe('running');
    expect(await g.supervisorLog()).toContain('health sick: 2 probes in a row failed; restarting');
    await g.until('healthy again', async () => JSON.parse(await readFile(statusFile, 'utf8')).health === 'healthy');
  });

  test('systemd daemon-reexec: the supervisor follows and still reconciles', async () => {
    await g.sys.exec(['systemctl', 'daemon-reexec']);
    await g.until('reexec noticed', async () => (await g.supervisorLog()).includes('systemd re-executed'));
    await g.writeSpec('late', `name: late\nimage: ${testImage}\ncommand: [sleep, '3600']\n`);
    await g.until('late active', async () => (await g.state('late')).activeState === 'active');
    expect((await execa(join(repoRoot, 'bin/keel'), ['containers', 'list', '--json', '--root', g.sys.root])).stdout).toContain('"name": "late"');
  });

  test('the bus drops (dbus restarted): the supervisor reconnects and still reconciles', async () => {
    await g.sys.exec(['systemctl', 'restart', 'dbus.service']);
    await g.until('reconnect logged', async () => /d-bus connection lost[\s\S]*connected to systemd/.test(await g.supervisorLog()));
    await g.writeSpec('later', `name: later\nimage: ${testImage}\ncommand: [sleep, '3600']\n`);
    await g.until('later active', async () => (await g.state('later')).activeState === 'active');
  });
});
