import { describe, expect, test } from 'vitest';
import { tick, type AgentEnv } from '../../../src/update/agent-tick.js';
import type { AgentState } from '../../../src/update/agent-state.js';
import { updateConfigOf } from '../../../src/update/update-config.js';
import { locksmithWindow } from '../../../src/update/maintenance-window.js';
import type { Release } from '../../../src/update/release.js';
import { KeelError } from '../../../src/errors.js';

// The tick's decisions against a recording double of the host edges. The same tick runs
// against the real edges (directory tree, HTTP, etcd) in test/integration/update/agent-tree.test.ts
// and in qemu in test/e2e/update.test.ts; this covers the branches those do not reach.
const release: Release = { version: '2.0.0', channel: 'stable', slot: { path: 'p', length: 1, sha256: 'x' } };
const booted = { slot: 'a' as const, version: '1.0.0' };
const now = Date.parse('2026-11-27T12:00:00Z'); // a Friday

function fakeEnv(over: Partial<AgentEnv> = {}, conf: Record<string, string> = {}): AgentEnv & { calls: string[] } {
  const calls: string[] = [];
  const rec = (name: string, value?: unknown) => async () => {
    calls.push(name);
    return value;
  };
  const env = {
    calls,
    now: () => now,
    random: () => 0.5,
    config: updateConfigOf({ SERVER: 'http://repo', REBOOT_STRATEGY: 'etcd-lock', POSTPONE_WHILE_LOGGED_IN: 'false', ...conf }),
    log: { error() {}, warning() {}, notice() {}, info() {}, debug() {} },
    bootFacts: async () => ({ booted, trial: false }),
    health: async () => true,
    findRollback: async () => undefined,
    markGood: rec('markGood'),
    recordFailed: rec('recordFailed'),
    unhealthyReboots: async () => 0,
    stagedRelease: async () => undefined,
    check: async () => ({ kind: 'none' as const, reason: 'nothing' }),
    download: rec('download'),
    usersLoggedIn: async () => 0,
    takeLock: async () => {
      calls.push('takeLock');
      return true;
    },
    reboot: rec('reboot'),
    report: async () => undefined,
    ...over,
  };
  return env as AgentEnv & { calls: string[] };
}

const staged: AgentState = { kind: 'staged', booted, release, postponements: 0 };

describe('agent tick', () => {
  test('outside the maintenance window a staged release waits for the next opening', async () => {
    const env = fakeEnv({}, { WINDOW_START: 'Thu 04:00', WINDOW_LENGTH: '1h' });
    const r = await tick(staged, env);
    expect(r.state).toMatchObject({ kind: 'staged', postponements: 1 });
    expect(r.waitingForWindow).toBe(true);
    expect(now + r.delayMs).toBe(Date.parse('2026-12-03T04:00:00Z'));
    expect(env.calls).toEqual([]);
  });

  test('apply (force) ignores the window but still takes the lock', async () => {
    const env = fakeEnv({}, { WINDOW_START: 'Thu 04:00', WINDOW_LENGTH: '1h' });
    const r = await tick(staged, env, true);
    expect(r.state.kind).toBe('rebooting');
    expect(env.calls).toEqual(['takeLock']);
  });

  test('a busy lock postpones; the reboot happens once it is free', async () => {
    let free = false;
    const env = fakeEnv({ takeLock: async () => free });
    expect((await tick(staged, env)).state).toMatchObject({ kind: 'staged', postponements: 1 });
    free = true;
    const r = await tick(staged, env);
    expect(r.state.kind).toBe('rebooting');
    await tick(r.state, env);
    expect(env.calls).toEqual(['reboot']);
  });

  test('logged-in users postpone the reboot a bounded number of times', async () => {
    const env = fakeEnv({ usersLoggedIn: async () => 1 }, { POSTPONE_WHILE_LOGGED_IN: 'true', MAX_POSTPONEMENTS: '2' });
    let s: AgentState = staged;
    for (let i = 0; i < 2; i++) s = (await tick(s, env)).state;
    expect(s).toMatchObject({ kind: 'staged', postponements: 2 });
    expect((await tick(s, env)).state.kind).toBe('rebooting');
  });

  test('strategy off stages and never reboots', async () => {
    const env = fakeEnv({}, { REBOOT_STRATEGY: 'off' });
    const r = await tick(staged, env, true);
    expect(r.state).toEqual(staged);
    expect(env.calls).toEqual([]);
  });

  test('failed downloads back off and are abandoned after the limit', async () => {
    const env = fakeEnv({ download: async () => { throw new KeelError('unavailable', 'connection refused'); } }, { MAX_DOWNLOAD_ATTEMPTS: '2' });
    let s: AgentState = { kind: 'available', booted, release, failedAttempts: 0 };
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await tick(s, env);
      delays.push(r.delayMs);
      s = r.state;
    }
    expect(s.kind).toBe('available');
    expect(delays).toEqual([0, 15_000, 0, 30_000]);
    const r = await tick(s, env);
    expect(r.state).toMatchObject({ kind: 'steady', lastCheckMs: now });
  });

  test('a blessed slot that fails its health gate is not rolled back and does not update', async () => {
    const env = fakeEnv({ health: async () => false });
    const r = await tick({ kind: 'booted', booted, trial: false }, env);
    expect(r.state.kind).toBe('booted');
    expect(env.calls).toEqual([]);
  });

  test('an unhealthy trial slot is rebooted until the bound, then left for an operator', async () => {
    let done = 0;
    const env = fakeEnv({ unhealthyReboots: async (_v, add) => (add ? ++done : done) });
    let s: AgentState = { kind: 'unhealthy', booted, reboots: 0 };
    for (let i = 0; i < 3; i++) s = (await tick(s, env)).state;
    expect(env.calls).toEqual(['reboot', 'reboot', 'reboot']);
    const r = await tick(s, env);
    expect(r.delayMs).toBe(3_600_000);
    expect(env.calls).toHaveLength(3);
  });

  test('a rollback is recorded with its reason in the same write, before anything else is touched', async () => {
    const failed: [string, string][] = [];
    const env = fakeEnv({ recordFailed: async (version, message) => void failed.push([version, message]) });
    const r = await tick({ kind: 'rolled-back', booted, failedVersion: '2.0.0' }, env);
    expect(r.state.kind).toBe('steady');
    expect(failed).toEqual([['2.0.0', '2.0.0 failed its health gate and ran out of tries: rolled back to 1.0.0 in slot a; 2.0.0 will not be installed again']]);
    expect(env.calls).toEqual(['markGood']);
  });

  test('without a server the agent only waits', async () => {
    const env = fakeEnv({}, { SERVER: '' });
    const r = await tick({ kind: 'steady', booted }, env);
    expect(r.state).toEqual({ kind: 'steady', booted });
    expect(r.delayMs).toBe(300_000);
  });
});

describe('fleet hooks of the tick', () => {
  test('a failing pre-reboot check keeps the node from asking for a slot, and the next tick asks again', async () => {
    let reason: string | undefined = 'pre-reboot units not active: web.service (failed)';
    const reports: string[] = [];
    const env = fakeEnv({ preReboot: async () => reason, report: async (f) => void reports.push(f.lastCheckResult ?? '') });
    const r = await tick(staged, env);
    expect(r.state).toEqual(staged);
    expect(r.delayMs).toBe(60_000);
    expect(env.calls).toEqual([]);
    expect(reports).toEqual(['2.0.0 staged; waiting: pre-reboot units not active: web.service (failed)']);
    reason = undefined;
    expect((await tick(r.state, env)).state.kind).toBe('rebooting');
    expect(env.calls).toEqual(['takeLock']);
  });

  test('a full group is waited for in the lock queue for at most 5 minutes, never past the window; after a wait the tick looks again at once', async () => {
    const waits: number[] = [];
    let clock = now;
    const stop = new AbortController();
    const env = fakeEnv({
      now: () => clock,
      takeLock: async (_mode, _version, wait) => {
        waits.push(wait!.ms);
        expect(wait!.signal).toBe(stop.signal);
        clock += wait!.ms; // waited the whole time in the queue
        return false;
      },
    });
    const r = await tick(staged, env, false, stop.signal);
    expect(r).toMatchObject({ state: { kind: 'staged', postponements: 1 }, delayMs: 0 });
    const inWindow = fakeEnv({ takeLock: async (_m, _v, wait) => (waits.push(wait!.ms), false) }, { WINDOW_START: 'Fri 11:00', WINDOW_LENGTH: '1h10m' });
    // A lock that answers at once (a halt refused the start): the next ask comes 30 s later.
    expect((await tick(staged, inWindow)).delayMs).toBe(30_000);
    expect(waits).toEqual([300_000, 300_000]); // the window closes at 12:10, 10 minutes on: the 5-minute bound
  });

  test('the wait for the lock ends with the window', async () => {
    const waits: number[] = [];
    const env = fakeEnv({ takeLock: async (_m, _v, wait) => (waits.push(wait!.ms), false) }, { WINDOW_START: 'Fri 11:00', WINDOW_LENGTH: '1h2m' });
    await tick(staged, env);
    expect(waits).toEqual([120_000]); // the window closes at 12:02
  });

  test('the lock is asked for the staged version', async () => {
    const asked: string[] = [];
    const env = fakeEnv({ takeLock: async (_mode, version) => (asked.push(version), false) });
    expect((await tick(staged, env)).state.kind).toBe('staged');
    expect(asked).toEqual(['2.0.0']);
  });

  test('a trial slot failing its health gate is counted against its rollout', async () => {
    const failed: string[] = [];
    const env = fakeEnv({ health: async () => false, healthFailed: async (b, m) => void failed.push(`${b.version}: ${m}`) });
    const r = await tick({ kind: 'booted', booted, trial: true }, env);
    expect(r.state.kind).toBe('unhealthy');
    expect(failed).toEqual(['1.0.0: 1.0.0 failed its health gate']);
  });
});
