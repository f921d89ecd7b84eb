import { existsSync, readlinkSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { KeelError } from '../../src/errors.js';
import { SystemdBus, type PropertiesChange } from '../../src/host/systemd-bus.js';
import { SystemdUnitManager } from '../../src/host/systemd-unit-manager.js';
import { bootSystemd, type BootedSystemd } from '../harness/systemd-ns.js';
import { repoRoot } from '../harness/rootfs.js';

// The D-Bus client against a real systemd (PID 1 in its own namespaces, reached over its
// system bus from the host). Unit files are written straight into the guest's /etc.
const units: Record<string, string> = {
  'keel-ok.service': '[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n',
  'keel-fail.service': '[Service]\nType=oneshot\nExecStart=/bin/sh -c "exit 3"\n',
  'keel-sleep.service': '[Service]\nExecStart=/bin/sleep infinity\nExecReload=/bin/true\n',
  'keel-noreload.service': '[Service]\nExecStart=/bin/sleep infinity\n',
};

describe('SystemdBus against systemd in namespaces', () => {
  let sys: BootedSystemd;
  let bus: SystemdBus;
  const probeBundle = `/tmp/keel-systemd-probe-${process.pid}.mjs`;

  beforeAll(async () => {
    await build({
      entryPoints: [path.join(repoRoot, 'test/integration/fixtures/systemd-private-probe.ts')],
      bundle: true, platform: 'node', format: 'esm', target: 'node20', outfile: probeBundle, logLevel: 'error', external: ['usocket', 'x11'],
      banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
    });
    const files = Object.fromEntries(Object.entries(units).map(([name, text]) => [`/etc/systemd/system/${name}`, text]));
    sys = await bootSystemd({ name: 'bus', files, binds: [{ source: probeBundle, target: '/opt/probe.mjs', readOnly: true }] });
    bus = await SystemdBus.connect({ address: sys.busAddress });
  });
  afterAll(async () => {
    await bus?.close();
    await sys?.stop();
    await fs.rm(probeBundle, { force: true });
  });

  test('reads unit properties and lists units', async () => {
    const dbus = await bus.getUnitProperties('dbus.service');
    expect(dbus).toMatchObject({ loadState: 'loaded', activeState: 'active', subState: 'running' });
    expect(dbus.mainPid).toBeGreaterThan(0);
    const missing = await bus.getUnitProperties('no-such-thing.service');
    expect(missing.loadState).toBe('not-found');
    const all = await bus.listUnits();
    expect(all.find((u) => u.name === 'dbus.service')?.activeState).toBe('active');
  });

  test.each([
    ['startUnit', 'keel-ok.service', 'done', 'active'],
    ['startUnit', 'keel-fail.service', 'failed', 'failed'],
    ['startUnit', 'keel-sleep.service', 'done', 'active'],
    ['reloadUnit', 'keel-sleep.service', 'done', 'active'],
    ['restartUnit', 'keel-sleep.service', 'done', 'active'],
    ['tryRestartUnit', 'keel-sleep.service', 'done', 'active'],
    ['reloadOrRestartUnit', 'keel-sleep.service', 'done', 'active'],
    ['reloadOrTryRestartUnit', 'keel-sleep.service', 'done', 'active'],
    ['stopUnit', 'keel-sleep.service', 'done', 'inactive'],
    ['tryRestartUnit', 'keel-sleep.service', 'done', 'inactive'],
    ['startUnit', 'keel-noreload.service', 'done', 'active'],
    ['reloadOrRestartUnit', 'keel-noreload.service', 'done', 'active'],
  ] as const)('%s %s → job %s, ActiveState %s', async (method, unit, result, activeState) => {
    const job = await bus[method](unit);
    expect(job).toMatchObject({ unit, result });
    expect((await bus.getUnitProperties(unit)).activeState).toBe(activeState);
  });

  test('a failed service reports its Result and exit status', async () => {
    const props = await bus.getUnitProperties('keel-fail.service');
    expect(props).toMatchObject({ activeState: 'failed', result: 'exit-code', execMainStatus: 3 });
    await bus.resetFailedUnit('keel-fail.service');
    expect((await bus.getUnitProperties('keel-fail.service')).activeState).toBe('inactive');
  });

  test('reloading a unit without ExecReload is refused with the unit named', async () => {
    const error = await bus.reloadUnit('keel-noreload.service').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeelError);
    expect((error as KeelError).message).toContain('keel-noreload.service');
  });

  test('starting a unit that does not exist fails with kind not-found', async () => {
    const error = await bus.startUnit('no-such-thing.service').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeelError);
    expect((error as KeelError).kind).toBe('not-found');
    expect((error as KeelError).message).toContain('no-such-thing.service');
  });

  test('many jobs at once all get their own JobRemoved', async () => {
    const names = Array.from({ length: 20 }, (_, i) => `keel-many-${i}.service`);
    await Promise.all(names.map((n) => fs.writeFile(path.join(sys.root, 'etc/systemd/system', n), units['keel-ok.service']!)));
    await bus.daemonReload();
    const jobs = await Promise.all(names.map((n) => bus.startUnit(n)));
    expect(jobs.map((j) => j.result)).toEqual(names.map(() => 'done'));
    expect(new Set(jobs.map((j) => j.job)).size).toBe(names.length);
  });

  test.each([
    [['/bin/true'], { jobResult: 'done', result: 'success', exitStatus: 0 }],
    [['/bin/sh', '-c', 'exit 42'], { jobResult: 'failed', result: 'exit-code', exitStatus: 42 }],
    [['/bin/sh', '-c', 'kill -9 $$'], { jobResult: 'failed', result: 'signal', signal: 9 }],
    [['/nonexistent/program'], { jobResult: 'failed', result: 'exit-code', exitStatus: 203 }],
  ])('runTransient %j', async (argv, expected) => {
    const run = await bus.runTransient(argv);
    expect(run).toMatchObject(expected);
    // Nothing left behind: the unit is gone or inactive.
    expect(['inactive']).toContain((await bus.getUnitProperties(run.unit)).activeState);
  });

  test('runTransient passes argv literally unless asked to expand the environment', async () => {
    await bus.runTransient(['/bin/sh', '-c', 'echo "$0 ${HOME:-unset}" > /run/keel-literal', 'arg0']);
    expect(await fs.readFile(path.join(sys.root, 'run/keel-literal'), 'utf8')).toBe('arg0 unset\n');
    await bus.runTransient(['/bin/sh', '-c', 'echo "$GREETING" > /run/keel-expanded'], {
      expandEnvironment: true,
      properties: { Environment: ['GREETING=expanded-by-systemd'] },
    });
    expect(await fs.readFile(path.join(sys.root, 'run/keel-expanded'), 'utf8')).toBe('expanded-by-systemd\n');
  });

  test('runTransient kills a command that outlives its timeout', async () => {
    const run = await bus.runTransient(['/bin/sleep', '30'], { timeoutMs: 300 });
    expect(run).toMatchObject({ jobResult: 'failed', result: 'timeout' });
  });

  test('runTransient passes environment and working directory', async () => {
    const out = '/tmp/keel-transient-env';
    const run = await bus.runTransient(['/bin/sh', '-c', `echo "$GREETING $(pwd)" > /run/keel-env-out`], {
      properties: { Environment: ['GREETING=hello'], WorkingDirectory: '/etc' },
    });
    expect(run.exitStatus).toBe(0);
    expect(await fs.readFile(path.join(sys.root, 'run/keel-env-out'), 'utf8')).toBe('hello /etc\n');
    expect(out).toBeTruthy();
  });

  test('enable, disable, mask and unmask unit files', async () => {
    const wants = path.join(sys.root, 'etc/systemd/system/multi-user.target.wants/keel-ok.service');
    const enabled = await bus.enableUnitFiles(['keel-ok.service']);
    expect(enabled.carriesInstallInfo).toBe(true);
    expect(enabled.changes).toContainEqual({ type: 'symlink', file: '/etc/systemd/system/multi-user.target.wants/keel-ok.service', destination: '/etc/systemd/system/keel-ok.service' });
    expect(readlinkSync(wants)).toBe('/etc/systemd/system/keel-ok.service');
    const disabled = await bus.disableUnitFiles(['keel-ok.service']);
    expect(disabled.map((c) => c.type)).toEqual(['unlink']);
    expect(existsSync(wants)).toBe(false);
    const masked = await bus.maskUnitFiles(['keel-mask-me.service'], { runtime: true });
    expect(masked).toEqual([{ type: 'symlink', file: '/run/systemd/system/keel-mask-me.service', destination: '/dev/null' }]);
    expect(readlinkSync(path.join(sys.root, 'run/systemd/system/keel-mask-me.service'))).toBe('/dev/null');
    await bus.daemonReload();
    expect((await bus.getUnitProperties('keel-mask-me.service')).loadState).toBe('masked');
    await bus.unmaskUnitFiles(['keel-mask-me.service'], { runtime: true });
    expect(existsSync(path.join(sys.root, 'run/systemd/system/keel-mask-me.service'))).toBe(false);
  });

  test('onPropertiesChanged sees a unit become active, and killUnit makes it fail', async () => {
    const seen: PropertiesChange[] = [];
    const off = bus.onPropertiesChanged((c) => {
      if (c.unit === 'keel-sleep.service') seen.push(c);
    });
    await bus.startUnit('keel-sleep.service');
    expect(seen.some((c) => c.changed.ActiveState === 'active')).toBe(true);
    await bus.killUnit('keel-sleep.service', 9);
    for (let i = 0; i < 100 && (await bus.getUnitProperties('keel-sleep.service')).activeState !== 'failed'; i++) await sleep(20);
    expect(await bus.getUnitProperties('keel-sleep.service')).toMatchObject({ activeState: 'failed', result: 'signal' });
    expect(seen.some((c) => c.changed.ActiveState === 'failed')).toBe(true);
    off();
    await bus.resetFailedUnit('keel-sleep.service');
  });

  test('SystemdUnitManager runs unit commands and transient commands', async () => {
    const manager = new SystemdUnitManager(bus);
    await manager.daemonReload();
    expect(await manager.runUnitCommand('keel-ok.service', 'restart')).toEqual({ unit: 'keel-ok.service', command: 'restart', result: 'done' });
    expect(await manager.runUnitCommand('keel-fail.service', 'start')).toEqual({ unit: 'keel-fail.service', command: 'start', result: 'failed' });
    expect(await manager.runTransient('keel-script', ['/bin/true'])).toEqual({ unit: 'keel-script.service', command: 'start', result: 'done' });
    expect((await manager.runTransient('keel-script-2', ['/bin/false'])).result).toBe('failed');
    await manager.close();
    // Not owned: the shared client stays usable.
    expect((await bus.getUnitProperties('dbus.service')).activeState).toBe('active');
    await bus.resetFailedUnit('keel-fail.service');
  });

  test('reconnects after the bus daemon restarts, and after daemon-reexec', async () => {
    const events: string[] = [];
    bus.on('disconnect', () => events.push('disconnect'));
    const reconnected = () => new Promise<void>((resolve) => bus.once('reconnect', () => resolve()));
    let again = reconnected();
    let t0 = performance.now();
    await sys.exec(['systemctl', 'restart', 'dbus.service']);
    await again;
    console.log(`reconnected ${Math.round(performance.now() - t0)} ms after restarting dbus.service`);
    expect(events).toContain('disconnect');
    expect((await bus.startUnit('keel-ok.service')).result).toBe('done');

    again = reconnected();
    t0 = performance.now();
    await bus.daemonReexec();
    await again;
    console.log(`reconnected ${Math.round(performance.now() - t0)} ms after daemon-reexec`);
    expect((await bus.restartUnit('keel-ok.service')).result).toBe('done');
    expect((await bus.getUnitProperties('keel-ok.service')).activeState).toBe('active');
  });

  test("works over systemd's private socket from inside the guest", async () => {
    const out = await sys.exec(['node', '/opt/probe.mjs', sys.privateBusAddress], { timeoutMs: 30_000 });
    const result = JSON.parse(out.stdout) as { dbus: string; failed: { exitStatus: number; result: string }; ok: { exitStatus: number } };
    expect(result.dbus).toBe('active');
    expect(result.failed).toMatchObject({ result: 'exit-code', exitStatus: 7 });
    expect(result.ok.exitStatus).toBe(0);
  });
});

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
