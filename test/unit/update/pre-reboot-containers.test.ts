// The pre-reboot check "keel containers healthy" with a probe double (specs, unit states, the
// supervisor's health records), and the host probe's file side on a directory tree.
import { afterAll, describe, expect, test } from 'vitest';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HostContainerProbe, containersProblem, judgeContainers, type ContainerProbe, type ContainerSpecFact } from '../../../src/update/pre-reboot-containers.js';
import { PreRebootStage } from '../../../src/update/pre-reboot.js';
import { tempDir } from './fixture.js';

interface World {
  specs: ContainerSpecFact[];
  units: Record<string, [string, string] | Error>;
  health: Record<string, string>;
}

function probe(w: World): ContainerProbe & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    specs: async () => w.specs,
    unitState: async (unit) => {
      asked.push(unit);
      const s = w.units[unit];
      if (s instanceof Error) throw s;
      return s ? { activeState: s[0], subState: s[1] } : { activeState: 'inactive', subState: 'dead' };
    },
    health: async (name) => w.health[name],
  };
}

const spec = (name: string, hasHealthCheck = false): ContainerSpecFact => ({ name, hasHealthCheck });
const running: [string, string] = ['active', 'running'];

describe('keel containers healthy', () => {
  test('every container active, and healthy where it has a check: passes', async () => {
    const p = probe({ specs: [spec('web', true), spec('cache')], units: { 'keel-container-web.service': running, 'keel-container-cache.service': running }, health: { web: 'healthy' } });
    expect(await containersProblem('all', p)).toBeUndefined();
    expect(p.asked).toEqual(['keel-container-web.service', 'keel-container-cache.service']);
  });

  test('all: each container that is not ready is named with why', async () => {
    const p = probe({
      specs: [spec('web', true), spec('db', true), spec('cache'), spec('queue', true), { name: 'bad', hasHealthCheck: false, invalid: '/etc/keel/containers/bad.yaml:3:8: error: image: expected an image reference' }],
      units: { 'keel-container-web.service': running, 'keel-container-db.service': running, 'keel-container-cache.service': ['activating', 'auto-restart'], 'keel-container-queue.service': running },
      health: { web: 'unhealthy', queue: 'starting' },
    });
    expect(await containersProblem('all', p)).toBe(
      'pre-reboot containers not healthy: web (active, health unhealthy), db (active, health not probed yet), cache (activating/auto-restart), queue (active, health starting), bad (its spec is invalid: /etc/keel/containers/bad.yaml:3:8: error: image: expected an image reference)',
    );
  });

  test('names: only those are checked; a name without a spec fails', async () => {
    const p = probe({ specs: [spec('web'), spec('cache')], units: { 'keel-container-web.service': running }, health: {} });
    expect(await containersProblem(['web', 'gone'], p)).toBe('pre-reboot containers not healthy: gone (no spec in /etc/keel/containers)');
    expect(p.asked).toEqual(['keel-container-web.service']);
  });

  test('all with no containers at all passes', async () => {
    expect(await containersProblem('all', probe({ specs: [], units: {}, health: {} }))).toBeUndefined();
  });

  test('systemd not answering, or specs unreadable, is the reason (never a pass)', async () => {
    const p = probe({ specs: [spec('web')], units: { 'keel-container-web.service': new Error('connect ENOENT /run/dbus/system_bus_socket') }, health: {} });
    expect(await containersProblem('all', p)).toBe('pre-reboot containers: cannot ask systemd about keel-container-web.service (connect ENOENT /run/dbus/system_bus_socket)');
    const broken: ContainerProbe = { ...p, specs: async () => Promise.reject(new Error('EACCES: permission denied')) };
    expect(await containersProblem('all', broken)).toBe('pre-reboot containers: cannot read the container specs (EACCES: permission denied)');
  });

  test('judging is pure: a unit systemd does not know is named as such', () => {
    expect(judgeContainers([{ name: 'web', spec: spec('web') }])).toBe('pre-reboot containers not healthy: web (unknown to systemd)');
  });

  test('the stage runs containers after the command and units, with the probe handed in', async () => {
    const calls: string[] = [];
    const run = async (file: string, args: readonly string[]) => (calls.push([file, ...args].join(' ')), { exitCode: 0, stdout: 'active\n', stderr: '', timedOut: false });
    const p = probe({ specs: [spec('web')], units: {}, health: {} });
    const stage = new PreRebootStage('/nonexistent', { command: 'true', units: ['a.service'], containers: 'all' }, { run, containers: p });
    expect(await stage.run()).toBe('pre-reboot containers not healthy: web (inactive/dead)');
    expect(calls).toEqual(['/bin/sh -c true', 'systemctl is-active -- a.service']);
    await stage.close();
  });
});

describe('the host probe, file side', () => {
  let root: string;
  afterAll(async () => root && rm(root, { recursive: true, force: true }));

  test('specs say valid or why not, and whether there is a health check; health comes from the supervisor record', async () => {
    root = await tempDir('keel-pre-reboot-containers-');
    await mkdir(join(root, 'etc/keel/containers'), { recursive: true });
    await mkdir(join(root, 'run/keel/containers'), { recursive: true });
    await writeFile(join(root, 'etc/keel/containers/web.yaml'), 'name: web\nimage: localhost/web:1\nhealth:\n  command: [wget, -q, localhost]\n');
    await writeFile(join(root, 'etc/keel/containers/cache.yaml'), 'name: cache\nimage: localhost/cache:1\n');
    await writeFile(join(root, 'etc/keel/containers/bad.yaml'), 'name: bad\nimage: "no spaces allowed"\n');
    await writeFile(join(root, 'run/keel/containers/web.json'), JSON.stringify({ name: 'web', activeState: 'active', health: 'healthy' }));
    await writeFile(join(root, 'run/keel/containers/cache.json'), '{not json');
    const host = new HostContainerProbe(root, 'unix:path=/nonexistent');
    const specs = await host.specs();
    expect(specs.map((s) => [s.name, s.hasHealthCheck, s.invalid !== undefined])).toEqual([['bad', false, true], ['cache', false, false], ['web', true, false]]);
    expect(specs[0]!.invalid).toMatch(/bad\.yaml:2:\d+: error: image: expected an image reference/);
    expect([await host.health('web'), await host.health('cache'), await host.health('none')]).toEqual(['healthy', undefined, undefined]);
    await expect(host.unitState('keel-container-web.service')).rejects.toThrow();
    await host.close();
  });
});
