import { existsSync, readlinkSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { SystemdBus } from '../../src/host/systemd-bus.js';
import { bootSystemd, type BootedSystemd } from '../harness/systemd-ns.js';
import { repoRoot } from '../harness/rootfs.js';

// The live test: `keel cloud-config apply` on a live host, i.e. run inside a guest
// whose PID 1 is a real systemd, with root `/`. keel (the built bundle, ./bin/keel) runs
// there through nsenter, with the work tree bound read-only at /opt/keel and the host's node
// at /usr/local/bin/node. The test checks the result from outside, over D-Bus.
const userData = `#cloud-config
hostname: live-host
write_files:
  - path: /etc/keel-live/greeting
    content: hello from cloud-config
coreos:
  units:
    - name: keel-live-web.service
      enable: true
      command: start
      content: |
        [Unit]
        Description=keel live test service
        [Service]
        ExecStart=/bin/sleep infinity
        [Install]
        WantedBy=multi-user.target
    - name: keel-live-oneshot.service
      command: start
      content: |
        [Service]
        Type=oneshot
        RemainAfterExit=yes
        ExecStart=/bin/sh -c 'cat /etc/keel-live/greeting > /run/keel-live-ran'
      drop_ins:
        - name: 10-env.conf
          content: |
            [Service]
            Environment=FROM_DROPIN=yes
runcmd:
  - echo runcmd-ran > /run/keel-runcmd
`;

const failingUserData = `#cloud-config
coreos:
  units:
    - name: keel-live-broken.service
      command: start
      content: |
        [Service]
        Type=oneshot
        ExecStart=/bin/false
    - name: keel-live-after.service
      command: start
      content: |
        [Service]
        Type=oneshot
        RemainAfterExit=yes
        ExecStart=/bin/true
`;

const privateBusUserData = `#cloud-config
coreos:
  units:
    - name: keel-live-early.service
      command: start
      content: |
        [Service]
        Type=oneshot
        RemainAfterExit=yes
        ExecStart=/bin/true
`;

describe('cloud-config apply on a live systemd host', () => {
  let sys: BootedSystemd;
  let bus: SystemdBus;
  let seeds: string;

  beforeAll(async () => {
    if (!existsSync(path.join(repoRoot, 'bin/keel.mjs'))) throw new Error('bin/keel.mjs is missing: run `make build` (node scripts/build.mjs) first');
    seeds = await fs.mkdtemp(path.join(os.tmpdir(), 'keel-live-seeds-'));
    await fs.mkdir(path.join(seeds, 'nocloud'));
    await fs.writeFile(path.join(seeds, 'nocloud/user-data'), userData);
    await fs.writeFile(path.join(seeds, 'nocloud/meta-data'), 'instance-id: iid-live-1\nlocal-hostname: live-host\n');
    await fs.writeFile(path.join(seeds, 'failing.yaml'), failingUserData);
    await fs.writeFile(path.join(seeds, 'private.yaml'), privateBusUserData);
    await fs.writeFile(path.join(seeds, 'early.yaml'), privateBusUserData.replace('keel-live-early', 'keel-live-earliest'));
    sys = await bootSystemd({
      name: 'live',
      binds: [
        { source: repoRoot, target: '/opt/keel', readOnly: true },
        { source: seeds, target: '/opt/seeds', readOnly: true },
      ],
    });
    bus = await SystemdBus.connect({ address: sys.busAddress });
  });
  afterAll(async () => {
    await bus?.close();
    await sys?.stop();
    if (seeds) await fs.rm(seeds, { recursive: true, force: true });
  });

  test('units applied over D-Bus become active', async () => {
    const run = await sys.exec(['/opt/keel/bin/keel', 'cloud-config', 'apply', '--datasource', 'nocloud', '--seed', '/opt/seeds/nocloud'], { reject: false, timeoutMs: 120_000 });
    expect(run.stderr + run.stdout).not.toMatch(/failed/);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toContain('instance iid-live-1');

    for (const unit of ['keel-live-web.service', 'keel-live-oneshot.service']) {
      const props = await bus.getUnitProperties(unit);
      expect({ unit, loadState: props.loadState, activeState: props.activeState }).toEqual({ unit, loadState: 'loaded', activeState: 'active' });
    }
    const oneshot = await bus.getUnitProperties('keel-live-oneshot.service');
    expect(oneshot.raw.Environment).toEqual(['FROM_DROPIN=yes']);
    expect(await fs.readFile(path.join(sys.root, 'run/keel-live-ran'), 'utf8')).toBe('hello from cloud-config');
    expect(await fs.readFile(path.join(sys.root, 'run/keel-runcmd'), 'utf8')).toBe('runcmd-ran\n');
    expect(readlinkSync(path.join(sys.root, 'etc/systemd/system/multi-user.target.wants/keel-live-web.service'))).toMatch(/keel-live-web\.service$/);
    expect((await fs.readFile(path.join(sys.root, 'etc/hostname'), 'utf8')).trim()).toBe('live-host');
    // Running in systemd's namespace, keel sets the running hostname itself: no transient unit.
    expect((await sys.exec(['hostname'])).stdout.trim()).toBe('live-host');
    const unitsLogged = (await sys.exec(['journalctl', '--no-pager', '-F', 'UNIT'])).stdout.split('\n');
    expect(unitsLogged).toContain('keel-live-web.service');
    expect(unitsLogged.filter((u) => u.startsWith('keel-hostname-'))).toEqual([]);
  });

  test('applying the same instance again does nothing', async () => {
    const before = (await bus.getUnitProperties('keel-live-web.service')).mainPid;
    const run = await sys.exec(['/opt/keel/bin/keel', 'cloud-config', 'apply', '--datasource', 'nocloud', '--seed', '/opt/seeds/nocloud'], { reject: false, timeoutMs: 120_000 });
    expect(run.exitCode).toBe(0);
    expect(run.stderr).toContain('already applied');
    expect((await bus.getUnitProperties('keel-live-web.service')).mainPid).toBe(before);
  });

  test('a failing unit command is reported with the unit and its job result', async () => {
    const run = await sys.exec(['/opt/keel/bin/keel', 'cloud-config', 'apply', '--from-file', '/opt/seeds/failing.yaml', '--force'], { reject: false, timeoutMs: 120_000 });
    expect(run.exitCode).toBe(1);
    const output = run.stdout + run.stderr;
    expect(output).toContain('keel-live-broken.service');
    expect(output).toContain("'failed'");
    expect((await bus.getUnitProperties('keel-live-broken.service')).activeState).toBe('failed');
    // The commands after the failed one still ran.
    expect((await bus.getUnitProperties('keel-live-after.service')).activeState).toBe('active');
  });

  test('at early boot, before dbus-daemon runs, keel finds systemd on its private socket', async () => {
    await sys.exec(['systemctl', 'stop', 'dbus.socket', 'dbus.service']);
    await sys.exec(['rm', '-f', '/run/dbus/system_bus_socket']);
    try {
      const run = await sys.exec(['/opt/keel/bin/keel', 'cloud-config', 'apply', '--from-file', '/opt/seeds/early.yaml', '--force'], { reject: false, timeoutMs: 120_000 });
      expect(run.stdout + run.stderr).not.toMatch(/failed/);
      expect(run.exitCode).toBe(0);
      const state = await sys.exec(['systemctl', 'show', '-P', 'ActiveState', 'keel-live-earliest.service']);
      expect(state.stdout.trim()).toBe('active');
    } finally {
      await sys.exec(['systemctl', 'start', 'dbus.socket', 'dbus.service']);
    }
  });

  test("applies over systemd's private socket when the bus daemon is not the way in", async () => {
    const run = await sys.exec(['/opt/keel/bin/keel', 'cloud-config', 'apply', '--from-file', '/opt/seeds/private.yaml', '--force'], {
      reject: false, timeoutMs: 120_000, env: { KEEL_SYSTEMD_BUS: sys.privateBusAddress },
    });
    expect(run.exitCode).toBe(0);
    expect((await bus.getUnitProperties('keel-live-early.service')).activeState).toBe('active');
  });
});
