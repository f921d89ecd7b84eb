import { describe, expect, test } from 'vitest';
import { AgentFleet, agentFacts } from '../../../src/update/agent-fleet.js';
import type { FleetStore } from '../../../src/fleet/fleet-store.js';
import { KeelError } from '../../../src/errors.js';
import { defaultRolloutPolicy } from '../../../src/fleet/rollout-policy.js';
import { readNodeRecord } from '../../../src/fleet/node-record.js';

// The agent's fleet side against a store double: etcd away is retried with backoff and the
// newest facts win; rollout calls never throw into the agent.
function fakeStore(failures: number) {
  const written: string[] = [];
  let left = failures;
  const store = {
    publishNode: async (_g: string, r: { state: string }) => {
      if (left-- > 0) throw new KeelError('unavailable', 'etcd at http://127.0.0.1:1 did not answer');
      written.push(r.state);
    },
    withdrawNode: async () => void written.push('withdrawn'),
    recordStarted: async () => {
      throw new KeelError('unavailable', 'etcd down');
    },
    recordFailed: async () => {
      throw new KeelError('unavailable', 'etcd down');
    },
    close: async () => undefined,
  };
  return { store: store as unknown as FleetStore, written };
}

const facts = (state: string) => ({ version: '1.0.0', slot: 'a', state, stateSince: '2026-12-03T10:00:00.000Z' });

describe('agent fleet', () => {
  test('a record etcd refuses is retried with backoff; the newest facts are the ones written', async () => {
    const { store, written } = fakeStore(2);
    const warnings: string[] = [];
    const log = { error() {}, warning: (m: string) => void warnings.push(m), notice() {}, info() {}, debug() {} };
    const fleet = new AgentFleet({ store, group: 'web', machineId: 'node-1', policy: defaultRolloutPolicy, log, retryMs: 5 });
    fleet.publish(facts('steady'));
    fleet.publish(facts('available'));
    fleet.publish(facts('downloading'));
    await fleet.flushed();
    expect(written).toEqual(['downloading']);
    expect(warnings).toEqual([expect.stringMatching(/cannot write this node's record \(etcd at .* did not answer\); retrying in 0 s/), expect.stringMatching(/retrying/)]);
    await fleet.close(true);
    expect(written).toEqual(['downloading', 'withdrawn']);
  });

  test('a start etcd cannot record is refused without throwing; a failure it cannot count is logged', async () => {
    const { store } = fakeStore(0);
    const errors: string[] = [];
    const log = { error: (m: string) => void errors.push(m), warning() {}, notice() {}, info() {}, debug() {} };
    const fleet = new AgentFleet({ store, group: 'web', machineId: 'node-1', policy: defaultRolloutPolicy, log });
    expect(await fleet.started('2.0.0')).toEqual({ ok: false, halted: false, reason: 'cannot record the start of 2.0.0 in etcd (etcd down)' });
    await fleet.failed('2.0.0', 'health gate failed');
    expect(errors).toEqual([expect.stringMatching(/cannot count the failure of 2\.0\.0 \(etcd down\)/)]);
  });

  test('a health gate silent past the deadline counts the node failed once', async () => {
    const failed: string[] = [];
    const store = { recordFailed: async (_g: string, v: string, f: { error: string }) => (failed.push(`${v}: ${f.error}`), { record: {} }), close: async () => undefined } as unknown as FleetStore;
    const log = { error() {}, warning() {}, notice() {}, info() {}, debug() {} };
    const fleet = new AgentFleet({ store, group: 'web', machineId: 'node-1', policy: { ...defaultRolloutPolicy, healthDeadlineMs: 60_000 }, log });
    await fleet.countOverdue('2.0.0', 1_000, 60_999);
    expect(failed).toEqual([]);
    await fleet.countOverdue('2.0.0', 1_000, 61_000);
    await fleet.countOverdue('2.0.0', 1_000, 90_000);
    expect(failed).toEqual(['2.0.0: 2.0.0 was not healthy within 1m of its reboot']);
  });

  test('facts make a record a reader accepts: staged, health, the slot held', () => {
    const f = agentFacts({
      kind: 'rebooting',
      booted: { slot: 'a', version: '1.0.0' },
      since: '2026-12-03T10:00:00.000Z',
      stored: { failedVersions: [], lastCheck: '2026-12-03T09:59:00.000Z', staged: { version: '2.0.0', channel: 'stable', slot: { path: 'p', length: 1, sha256: 'x' } } },
      verdict: { ok: false, at: '2026-12-03T09:00:00.000Z', checks: [{ name: 'web', ok: false, detail: 'web.service is failed' }, { name: 'db', ok: true, detail: 'active' }] },
      lastError: { message: 'x'.repeat(5000), at: '2026-12-03T09:00:00.000Z' },
      lockSince: '2026-12-03T10:00:00.000Z',
    });
    expect(f).toMatchObject({ state: 'rebooting', staged: '2.0.0', health: { verdict: 'failed', detail: 'web: web.service is failed' }, rebootSlot: { since: '2026-12-03T10:00:00.000Z' } });
    const text = JSON.stringify({ schema: 'keel.fleet.node/v1', machineId: 'node-1', hostname: 'h', ...f, lastError: { ...f.lastError, message: 'short' }, updatedAt: '2026-12-03T10:00:00.000Z' });
    expect(readNodeRecord('/keel/fleet/web/nodes/node-1', text, 'node-1')).toHaveProperty('record');
  });
});
