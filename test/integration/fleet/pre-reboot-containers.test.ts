// The pre-reboot check "keel containers healthy" against a real systemd (PID 1 in namespaces,
// over its D-Bus system bus at <root>/run/dbus/system_bus_socket, as the agent reaches it):
// a keel container unit that is not active fails, one that is active waits for the
// supervisor's health verdict when its spec has a check, and passes once it is healthy.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bootSystemd, type BootedSystemd } from '../../harness/systemd-ns.js';
import { SystemdBus } from '../../../src/host/systemd-bus.js';
import { HostContainerProbe } from '../../../src/update/pre-reboot-containers.js';
import { PreRebootStage } from '../../../src/update/pre-reboot.js';

let sys: BootedSystemd;
let bus: SystemdBus;

// A stand-in for the supervisor's unit: the check reads only systemd's state and the
// supervisor's record, never podman, so a plain long-running service will do.
const unit = '[Unit]\nDescription=keel container web (test stand-in)\n[Service]\nExecStart=/bin/sleep infinity\n';

beforeAll(async () => {
  sys = await bootSystemd({
    name: 'pre-reboot',
    withNode: false,
    files: {
      '/etc/systemd/system/keel-container-web.service': unit,
      '/etc/keel/containers/web.yaml': 'name: web\nimage: localhost/web:1\nhealth:\n  command: [wget, -q, -O-, http://127.0.0.1/]\n',
    },
  });
  bus = await SystemdBus.connect({ address: sys.busAddress });
}, 120_000);

afterAll(async () => {
  await bus?.close();
  await sys?.stop();
});

test('inactive fails, active without a verdict waits, healthy passes; a stop fails again', async () => {
  // The agent's stage makes its own host probe (one D-Bus client, kept until close).
  const stage = new PreRebootStage(sys.root, { units: [], containers: 'all' });
  const probe = new HostContainerProbe(sys.root);
  try {
    expect(await stage.run()).toBe('pre-reboot containers not healthy: web (inactive/dead)');
    expect((await bus.startUnit('keel-container-web.service')).result).toBe('done');
    expect(await stage.run()).toBe('pre-reboot containers not healthy: web (active, health not probed yet)');
    const records = join(sys.root, 'run/keel/containers');
    await mkdir(records, { recursive: true });
    await writeFile(join(records, 'web.json'), JSON.stringify({ name: 'web', activeState: 'active', subState: 'running', health: 'unhealthy' }));
    expect(await stage.run()).toBe('pre-reboot containers not healthy: web (active, health unhealthy)');
    await writeFile(join(records, 'web.json'), JSON.stringify({ name: 'web', activeState: 'active', subState: 'running', health: 'healthy' }));
    expect(await stage.run()).toBeUndefined();
    expect(await new PreRebootStage(sys.root, { units: [], containers: ['web', 'db'] }, { containers: probe }).run()).toBe('pre-reboot containers not healthy: db (no spec in /etc/keel/containers)');
    expect((await bus.stopUnit('keel-container-web.service')).result).toBe('done');
    expect(await stage.run()).toBe('pre-reboot containers not healthy: web (inactive/dead)');
  } finally {
    await stage.close();
    await probe.close();
  }
}, 60_000);
