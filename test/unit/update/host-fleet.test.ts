import { describe, expect, test } from 'vitest';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AgentFleet } from '../../../src/update/agent-fleet.js';
import { hostEnv } from '../../../src/update/agent-host.js';
import { readNodeState, writeNodeState } from '../../../src/update/node-state.js';
import { updateConfigOf } from '../../../src/update/update-config.js';
import type { FleetStore } from '../../../src/fleet/fleet-store.js';
import type { RebootLock } from '../../../src/lock/reboot-lock.js';
import { tempDir } from './fixture.js';

// The host env's fleet hooks against doubles of the store and the lock: a halted rollout
// keeps the node from asking for a slot, and one halted after it asked makes it give back the slot it took; a silent health gate past the deadline counts
// as a failure. The same hooks run against a real etcd in test/integration/fleet/agents.test.ts.
const quiet = { error() {}, warning() {}, notice() {}, info() {}, debug() {} };

async function hostWith(store: Partial<FleetStore>, lockCalls: string[], conf: Record<string, string> = {}, rides = false, releaseCarries = true) {
  const root = await tempDir('keel-host-fleet-');
  await mkdir(join(root, 'etc'), { recursive: true });
  await writeFile(join(root, 'etc/machine-id'), 'node-1\n');
  const config = updateConfigOf({ REBOOT_STRATEGY: 'etcd-lock', ...conf });
  const startWrites = () => ({ absent: ['rollout', 'mark'], puts: { mark: 'now' } });
  const successWrites = () => [{ absent: [], puts: { succeeded: 'now' } }, { absent: ['started'], puts: { started: 'now' } }];
  const fleet = new AgentFleet({ store: { close: async () => undefined, startWrites, successWrites, ...store } as FleetStore, group: 'web', machineId: 'node-1', policy: config.rollout, log: quiet });
  // Runs the caller's first step as the semaphore lock does for a slot handed over: before
  // acquire resolves, told whether the rider's writes went in with the confirmation (`rides`).
  const lock = {
    acquire: async (id: string, o?: { whenGranted?: (rode: boolean) => Promise<void>; rider?: { puts: Record<string, string> } }) => {
      lockCalls.push(`acquire ${id}${o?.rider ? ` with ${Object.keys(o.rider.puts).join(',')}` : ''}`);
      await o?.whenGranted?.(rides);
      if (o?.whenGranted) lockCalls.push(`granted ${id}`);
    },
    // As the semaphore lock does (true) or a FleetLock server (false): the riders go in with the release, or never.
    release: async (id: string, o?: { riders?: Array<{ puts: Record<string, string> }> }) => {
      lockCalls.push(`release ${id}${o?.riders ? ` with ${o.riders.flatMap((r) => Object.keys(r.puts)).join(',')}` : ''}`);
      return { rode: releaseCarries && o?.riders !== undefined };
    },
    close: async () => undefined,
  } as unknown as RebootLock;
  const now = Date.parse('2026-12-03T12:00:00Z');
  return { root, env: hostEnv({ root, config, log: quiet, openLock: async () => lock, fleet, now: () => now }) };
}

describe('host env with fleet records', () => {
  test('a rollout halted before the node asks: the slot is not even taken', async () => {
    const lockCalls: string[] = [];
    const asked: string[] = [];
    const readHalt = async (group: string, version: string) => (asked.push(`${group} ${version}`), { at: '2026-12-03T11:00:00.000Z', by: 'policy' as const, reason: '1 of 3 nodes failed, reaching max_failures 1', machineId: 'node-2' });
    const recordStarted = async () => {
      throw new Error('a start must not be recorded for a halted rollout');
    };
    const { root, env } = await hostWith({ readHalt, recordStarted }, lockCalls);
    expect(await env.takeLock('required', '2.0.0')).toBe(false);
    expect(asked).toEqual(['web 2.0.0']);
    expect(lockCalls).toEqual([]);
    expect((await readNodeState(join(root, 'var/lib/keel/update'))).lockHeld ?? false).toBe(false);
  });

  test('a halt while the node waits in line: it leaves the line (the wait ends), takes nothing and says why', async () => {
    const lockCalls: string[] = [];
    const halt = { at: '2026-12-03T11:00:00.000Z', by: 'policy' as const, reason: '1 of 3 nodes failed, reaching max_failures 1', machineId: 'node-2' };
    let reads = 0;
    const readHalt = async () => (++reads >= 3 ? halt : undefined);
    const notices: string[] = [];
    const root = await tempDir('keel-host-fleet-');
    await mkdir(join(root, 'etc'), { recursive: true });
    await writeFile(join(root, 'etc/machine-id'), 'node-1\n');
    const config = updateConfigOf({ REBOOT_STRATEGY: 'etcd-lock' });
    const log = { ...quiet, notice: (m: string) => void notices.push(m) };
    const fleet = new AgentFleet({ store: { close: async () => undefined, readHalt, startWrites: () => ({ absent: [], puts: {} }) } as unknown as FleetStore, group: 'web', machineId: 'node-1', policy: config.rollout, log, haltPollMs: 20 });
    // A full group: the wait lasts until its signal ends it, as the semaphore lock's does (leaving the queue).
    const lock = {
      acquire: (id: string, o: { signal: AbortSignal }) =>
        new Promise((_, reject) => {
          lockCalls.push(`wait ${id}`);
          o.signal.addEventListener('abort', () => (lockCalls.push(`left the line ${id}`), reject(new Error('aborted'))), { once: true });
        }),
      close: async () => undefined,
    } as unknown as RebootLock;
    const env = hostEnv({ root, config, log, openLock: async () => lock, fleet, now: () => Date.parse('2026-12-03T12:00:00Z') });
    expect(await env.takeLock('required', '2.0.0', { ms: 60_000 })).toBe(false);
    expect(lockCalls).toEqual(['wait node-1', 'left the line node-1']);
    expect(reads).toBe(3); // once before asking, then at the wait's ticks until the halt
    expect(notices.at(-1)).toMatch(/^no longer waiting for a reboot slot for 2\.0\.0: rollout of 2\.0\.0 is halted/);
  });

  test('a halt that lands between asking and taking: the slot taken is given back and the reboot does not go ahead', async () => {
    const lockCalls: string[] = [];
    const recordStarted = async () => ({ ok: false as const, reason: 'rollout of 2.0.0 is halted since … by policy: 1 of 3 nodes failed', record: {} as never, attempts: 1 });
    const { root, env } = await hostWith({ readHalt: async () => undefined, recordStarted }, lockCalls);
    expect(await env.takeLock('required', '2.0.0')).toBe(false);
    expect(lockCalls).toEqual(['acquire node-1 with mark', 'granted node-1', 'release node-1']);
    expect((await readNodeState(join(root, 'var/lib/keel/update'))).lockHeld).toBe(false);
  });

  test('a recorded start lets the reboot go ahead holding the slot; the start is the lock\'s first step with the slot, recorded once', async () => {
    const lockCalls: string[] = [];
    const recordStarted = async () => (lockCalls.push('start'), { ok: true as const, changed: true, record: {} as never, attempts: 1 });
    const { root, env } = await hostWith({ readHalt: async () => undefined, recordStarted }, lockCalls);
    expect(await env.takeLock('required', '2.0.0')).toBe(true);
    expect(lockCalls).toEqual(['acquire node-1 with mark', 'start', 'granted node-1']);
    expect((await readNodeState(join(root, 'var/lib/keel/update'))).lockHeld).toBe(true);
  });

  test('a start that rode in the confirmation of the slot handed over is not recorded again', async () => {
    const lockCalls: string[] = [];
    const recordStarted = async () => {
      throw new Error('the start went in with the confirmation already');
    };
    const { root, env } = await hostWith({ readHalt: async () => undefined, recordStarted }, lockCalls, {}, true);
    expect(await env.takeLock('required', '2.0.0')).toBe(true);
    expect(lockCalls).toEqual(['acquire node-1 with mark', 'granted node-1']);
    expect((await readNodeState(join(root, 'var/lib/keel/update'))).lockHeld).toBe(true);
  });

  test('a new slot marked good: its success rides in the release of its slot, one request, not written again', async () => {
    const lockCalls: string[] = [];
    const markSucceeded = async () => {
      throw new Error('the success went in with the release already');
    };
    const { root, env } = await hostWith({ markSucceeded: markSucceeded as never }, lockCalls);
    const dir = join(root, 'var/lib/keel/update');
    await writeNodeState(dir, { failedVersions: [], lockHeld: true, rebootingTo: '2.0.0', rebootingAt: '2026-12-03T11:58:00.000Z' } as never);
    await env.markGood({ slot: 'b', version: '2.0.0' }, false);
    expect(lockCalls).toEqual(['release node-1 with succeeded,started']);
    expect((await readNodeState(dir)).lockHeld).toBe(false);
  });

  test('a lock that cannot carry it (a FleetLock server): the success is written after the release, before markGood returns', async () => {
    const lockCalls: string[] = [];
    const markSucceeded = async (_g: string, v: string) => void lockCalls.push(`success of ${v}`);
    const { root, env } = await hostWith({ markSucceeded: markSucceeded as never }, lockCalls, {}, false, false);
    const dir = join(root, 'var/lib/keel/update');
    await writeNodeState(dir, { failedVersions: [], lockHeld: true, rebootingTo: '2.0.0', rebootingAt: '2026-12-03T11:58:00.000Z' } as never);
    await env.markGood({ slot: 'b', version: '2.0.0' }, false);
    expect(lockCalls).toEqual(['release node-1 with succeeded,started', 'success of 2.0.0']);
    expect((await readNodeState(dir)).lockHeld).toBe(false);
  });

  test('no verdict within the health deadline of the reboot counts the node failed, and the agent keeps waiting', async () => {
    const failed: string[] = [];
    const recordFailed = async (_g: string, v: string, f: { error: string }) => (failed.push(`${v}: ${f.error}`), { ok: true, changed: true, record: {}, attempts: 1 });
    const { root, env } = await hostWith({ recordFailed: recordFailed as never }, [], { ROLLOUT_HEALTH_DEADLINE: '5m' });
    const dir = join(root, 'var/lib/keel/update');
    await writeNodeState(dir, { failedVersions: [], rebootingTo: '2.0.0', rebootingAt: '2026-12-03T11:56:00.000Z' } as never);
    expect(await env.health()).toBeUndefined();
    expect(failed).toEqual([]);
    await writeNodeState(dir, { failedVersions: [], rebootingTo: '2.0.0', rebootingAt: '2026-12-03T11:55:00.000Z' } as never);
    expect(await env.health()).toBeUndefined();
    expect(await env.health()).toBeUndefined();
    expect(failed).toEqual(['2.0.0: 2.0.0 was not healthy within 5m of its reboot']);
  });
});
