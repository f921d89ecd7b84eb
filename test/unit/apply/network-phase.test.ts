// The first boot's local and network phases: the apply waits for network-online.target once,
// after everything that needs only the disks and before the first unit command, script or
// runcmd; a plan without them never waits; a datasource read over HTTP waits before detection.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { applyFailed, applyPlan } from '../../../src/apply/apply.js';
import { detectionNeedsNetwork, waitNetworkOnline } from '../../../src/apply/network-phase.js';
import { planCloudConfig } from '../../../src/cloudconfig/plan.js';
import type { Logger } from '../../../src/log.js';
import { config, file, input, unit } from '../cloudconfig/plan-fixtures.js';
import { RecordingUnits } from './recording-units.js';
import { hostFor, makeRoot } from './temp-root.js';

let root: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ root, cleanup } = await makeRoot()));
afterEach(async () => cleanup());

/** A host whose network wait is recorded among the unit calls, with what was on disk at that moment. */
function waitingHost(units: RecordingUnits, seen: string[]) {
  return {
    ...hostFor(root, units),
    waitNetwork: async () => {
      units.calls.push('wait network');
      seen.push(await readFile(join(root, 'etc/motd'), 'utf8').catch(() => 'missing'));
    },
  };
}

describe('apply: the network phase', () => {
  test('files, bootcmd and daemon-reload come before the one wait; unit commands and runcmd after it', async () => {
    const units = new RecordingUnits();
    const seen: string[] = [];
    const plan = planCloudConfig(
      input(config({ bootcmd: [['echo', 'boot']], writeFiles: [file('/etc/motd', 'hi\n')], units: [unit('b.service', { content: '[Service]\nExecStart=/bin/true\n', command: 'start' })], runcmd: ['echo one', 'echo two'] })),
    );
    const report = await applyPlan(plan, waitingHost(units, seen));
    expect(applyFailed(report)).toBe(false);
    expect(units.calls).toEqual([
      'transient keel-bootcmd-run1-1.service echo boot',
      'daemon-reload',
      'wait network',
      'start b.service',
      'transient keel-runcmd-run1-1.service /bin/sh -c echo one',
      'transient keel-runcmd-run1-2.service /bin/sh -c echo two',
    ]);
    expect(seen).toEqual(['hi\n']);
  });

  test('runcmd alone: the wait comes right before it', async () => {
    const units = new RecordingUnits();
    const plan = planCloudConfig(input(config({ writeFiles: [file('/etc/motd', 'hi\n')], runcmd: ['true'] })));
    await applyPlan(plan, waitingHost(units, []));
    expect(units.calls).toEqual(['wait network', 'transient keel-runcmd-run1-1.service /bin/sh -c true']);
  });

  test('a plan of files and users only never waits for the network', async () => {
    const units = new RecordingUnits();
    const plan = planCloudConfig(input(config({ hostname: 'n1', writeFiles: [file('/etc/motd', 'hi\n')] })));
    const report = await applyPlan(plan, waitingHost(units, []));
    expect(applyFailed(report)).toBe(false);
    expect(units.calls).not.toContain('wait network');
  });
});

describe('detectionNeedsNetwork', () => {
  test.each([
    ['console=ttyS0 ro keel.slot=a', undefined, false],
    ['ro cloud-config-url=http://10.0.2.2:8080/user-data', undefined, true],
    ['ro keel.config-url=HTTPS://example.org/u', undefined, true],
    ['ro cloud-config-url=file:///run/user-data', undefined, false],
    ['ro ds=nocloud;s=http://10.0.2.2/seed/', undefined, true],
    ['ro ds=nocloud;s=file:///var/seed/', undefined, false],
    ['ro', 'http://169.254.169.254/', true],
  ])('%s (metadata %s): %s', (cmdline, metadataUrl, expected) => {
    expect(detectionNeedsNetwork(cmdline, metadataUrl)).toBe(expected);
  });
});

describe('waitNetworkOnline', () => {
  const logged: string[] = [];
  const log: Logger = { error: (m) => logged.push(m), warning: (m) => logged.push(`warning: ${m}`), notice() {}, info: (m) => logged.push(m), debug() {} };
  beforeEach(() => void logged.splice(0));

  test('starts network-online.target and says how long it waited', async () => {
    const units = new RecordingUnits();
    await waitNetworkOnline(units, log);
    expect(units.calls).toEqual(['start network-online.target']);
    expect(logged[0]).toMatch(/^network online after [\d.]+ s of waiting$/);
  });

  /** Units whose network-online.target job never ends (networkd still waits for IPv6 link-local). */
  const stuckTarget = () => Object.assign(new RecordingUnits(), { runUnitCommand: () => new Promise<never>(() => {}) });

  test('an IPv4 default route ends the wait before network-online.target does', async () => {
    const answers = [undefined, undefined, 'enp0s4'];
    let asked = 0;
    await waitNetworkOnline(stuckTarget(), log, async () => answers[asked++]);
    expect(asked).toBe(3);
    expect(logged).toEqual([expect.stringMatching(/^network online after [\d.]+ s of waiting \(an IPv4 default route via enp0s4; network-online.target not waited for\)$/)]);
  });

  test('the target ends the wait when no route comes (an IPv6-only network), and the route is asked no more', async () => {
    let asked = 0;
    await waitNetworkOnline(new RecordingUnits(), log, async () => void asked++);
    const after = asked;
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(asked).toBe(after);
    expect(logged[0]).toMatch(/^network online after [\d.]+ s of waiting$/);
  });

  test('a route probe that fails counts as no route yet', async () => {
    let asked = 0;
    await waitNetworkOnline(stuckTarget(), log, async () => {
      if (asked++ === 0) throw new Error('EACCES');
      return 'eth0';
    });
    expect(logged[0]).toMatch(/via eth0/);
  });

  test('a target that does not come up is a warning, and the apply goes on', async () => {
    await waitNetworkOnline(new RecordingUnits({ 'network-online.target': 'dependency' }), log);
    expect(logged).toEqual([expect.stringMatching(/^warning: waiting for network-online.target ended with result 'dependency' after [\d.]+ s, expected 'done'; going on without it$/)]);
  });
});
