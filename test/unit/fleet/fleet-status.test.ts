// The status summary as a pure function of the group's keys and the lock's value.
import { describe, expect, test } from 'vitest';
import { fleetStatus, type FleetInput } from '../../../src/fleet/fleet-status.js';
import { formatFleetStatus } from '../../../src/fleet/fleet-status-text.js';
import { formatNodeRecord, nodeRecord, type NodeFacts } from '../../../src/fleet/node-record.js';
import { formatRolloutRecord, halt, newRollout, recordFailed, type RolloutRecord } from '../../../src/fleet/rollout-record.js';

const now = Date.parse('2026-12-03T12:00:00.000Z');
const node = (id: string, over: Partial<NodeFacts> = {}) =>
  formatNodeRecord(nodeRecord({ machineId: id, hostname: `host-${id}`, version: '1.0.0', slot: 'a', state: 'steady', stateSince: '2026-12-03T11:00:00.000Z', updatedAt: '2026-12-03T11:00:00.000Z', ...over }));
const failedRollout = (() => {
  const step = recordFailed(newRollout('1.1.0', '2026-12-03T11:30:00.000Z'), { machineId: 'n2', error: 'rolled back', at: '2026-12-03T11:30:00.000Z' }, { maxFailures: { kind: 'count', count: 1 }, healthDeadlineMs: 1 }, 3);
  return (step as { record: RolloutRecord }).record;
})();

function input(entries: Record<string, string>, over: Partial<FleetInput> = {}): FleetInput {
  return { group: 'g', entries: new Map(Object.entries(entries)), holderSince: new Map(), nowMs: now, ...over };
}

describe('fleetStatus', () => {
  test('nodes, lost nodes, versions, failures, the lock holder and the rollout', () => {
    const s = fleetStatus(
      input(
        {
          '/keel/fleet/g/nodes/n1': node('n1', { state: 'rebooting', rebootSlot: { since: '2026-12-03T11:58:00.000Z' } }),
          '/keel/fleet/g/lost/n1': node('n1', { state: 'staged' }),
          '/keel/fleet/g/nodes/n2': node('n2', { version: '1.0.0', state: 'rolled-back', health: { verdict: 'failed', at: '2026-12-03T11:30:00.000Z' } }),
          '/keel/fleet/g/lost/n3': node('n3', { version: '0.9.0' }),
          '/keel/fleet/g/nodes/n4': node('n4', { version: '1.1.0' }),
          '/keel/fleet/g/rollouts/1.1.0': formatRolloutRecord(failedRollout),
          '/keel/fleet/g/rollouts/1.1.0/started/n2': '2026-12-03T11:20:00.000Z',
        },
        { semaphore: '{"total_slots":2,"holders":["n1"]}', holderSince: new Map([['n1', '2026-12-03T11:58:00.000Z']]) },
      ),
    );
    expect(s.warnings).toEqual([]);
    expect(s.nodes.map((n) => [n.record.machineId, n.lost, n.record.state, n.forMs])).toEqual([
      ['n1', false, 'rebooting', 3_600_000],
      ['n2', false, 'rolled-back', 3_600_000],
      ['n3', true, 'steady', 3_600_000],
      ['n4', false, 'steady', 3_600_000],
    ]);
    expect(s.summary).toMatchObject({ nodes: 3, lost: 1, versions: { '1.0.0': 2, '1.1.0': 1 }, failed: ['n2'] });
    expect(s.summary.lock).toEqual({ totalSlots: 2, holders: [{ id: 'n1', hostname: 'host-n1', since: '2026-12-03T11:58:00.000Z', heldForMs: 120_000 }] });
    expect(s.summary.rollouts).toEqual([{ version: '1.1.0', state: 'halted', started: 1, succeeded: 0, failed: 1, failedNodes: ['n2'], halted: failedRollout.halted }]);
    const text = formatFleetStatus(s);
    expect(text).toMatch(/^MACHINE ID {2}HOSTNAME {2}VERSION {4}STATE {14}FOR {4}LAST ERROR\nn1 {10}host-n1 {3}1\.0\.0 \(a\) {2}rebooting {10}1h00m {2}\(holds a reboot slot\)\n/);
    expect(text).toContain('n3          host-n3   0.9.0 (a)  lost (was steady)  1h00m  -\n');
    expect(text).toContain('nodes: 3 (and 1 lost in the last day)\nversions: 1.0.0: 2, 1.1.0: 1\nfailed: 1 (n2)\nlock: 1 of 2 slots held: n1 (host-n1) for 2m00s\n');
    expect(text).toContain('rollout 1.1.0: halted, 1 started, 0 succeeded, 1 failed\n  rollout of 1.1.0 is halted since 2026-12-03T11:30:00.000Z by policy: 1 of 3 nodes failed, reaching max_failures 1 (tripped by n2: rolled back)\n');
  });

  test.each([
    ['a malformed node', { '/keel/fleet/g/nodes/n9': '{oops' }, '/keel/fleet/g/nodes/n9: expected JSON, found unparsable text; skipping this node record'],
    ['a foreign rollout', { '/keel/fleet/g/rollouts/2.0': '{"schema":"x"}' }, '/keel/fleet/g/rollouts/2.0: schema: expected "keel.fleet.rollout/v1", found "x" (a foreign or newer record); skipping this rollout record'],
    ['a stray key', { '/keel/fleet/g/junk': 'x' }, '/keel/fleet/g/junk: expected nodes/<machine-id>, lost/<machine-id>, attention/<machine-id>, rollouts/<version> or rollouts/<version>/started|succeeded/<machine-id> under the group; skipping this key'],
    ['a record under another id', { '/keel/fleet/g/nodes/n9': node('n1') }, '/keel/fleet/g/nodes/n9: machineId: expected "n9" (the key\'s), found "n1"; skipping this node record'],
  ])('%s is a warning and the good records still show', (_name, bad, warning) => {
    const s = fleetStatus(input({ ...bad, '/keel/fleet/g/nodes/n1': node('n1') }));
    expect(s.warnings).toEqual([warning]);
    expect(s.nodes.map((n) => n.record.machineId)).toEqual(['n1']);
  });

  test("a failed or rebooting node's attention copy is not a second node and no warning", () => {
    const s = fleetStatus(input({ '/keel/fleet/g/nodes/n1': node('n1'), '/keel/fleet/g/attention/n1': node('n1') }));
    expect([s.nodes.map((n) => n.record.machineId), s.warnings]).toEqual([['n1'], []]);
  });

  test('marks make a rollout without a stored value; marks of an unreadable one are left out with it', async () => {
    const s = fleetStatus(
      input({
        '/keel/fleet/g/rollouts/2.0/started/a': '2026-12-03T11:00:00.000Z',
        '/keel/fleet/g/rollouts/2.0/started/b': '2026-12-03T11:01:00.000Z',
        '/keel/fleet/g/rollouts/2.0/succeeded/a': '2026-12-03T11:05:00.000Z',
        '/keel/fleet/g/rollouts/3.0': '{"schema":"other"}',
        '/keel/fleet/g/rollouts/3.0/started/a': '2026-12-03T11:00:00.000Z',
      }),
    );
    expect(s.summary.rollouts).toEqual([{ version: '2.0', state: 'running', started: 2, succeeded: 1, failed: 0, failedNodes: [] }]);
    expect(s.warnings).toEqual(['/keel/fleet/g/rollouts/3.0: schema: expected "keel.fleet.rollout/v1", found "other" (a foreign or newer record); skipping this rollout record']);
  });

  test('a semaphore that is not airlock JSON is a warning and no lock line', () => {
    const s = fleetStatus(input({}, { semaphore: '{"total_slots":"x"}', semaphoreKey: 'sem' }));
    expect(s.warnings).toEqual(['sem: expected total_slots to be a whole number >= 0, found "x"; showing no lock']);
    expect(s.summary.lock).toBeUndefined();
    expect(formatFleetStatus(s)).toContain("no node records in group 'g'\n\ngroup: g\nnodes: 0\nversions: none\nfailed: 0\nlock: no semaphore yet (no node has taken a slot)\nrollouts: none\n");
  });

  test('a holder without a time, an operator halt, and control characters escaped', () => {
    const halted = (halt(newRollout('2.0', '2026-12-03T11:00:00.000Z'), 'wait for\u001b[2J monday', '2026-12-03T11:00:00.000Z') as { record: RolloutRecord }).record;
    const s = fleetStatus(
      input(
        { '/keel/fleet/g/nodes/n1': node('n1', { hostname: 'evil\nhost', lastError: { message: 'bad\rthing', at: '2026-12-03T11:00:00.000Z' } }), '/keel/fleet/g/rollouts/2.0': formatRolloutRecord(halted) },
        { semaphore: '{"total_slots":1,"holders":["zincati-1"]}' },
      ),
    );
    const text = formatFleetStatus(s);
    expect(text).toContain('evil\\x0ahost');
    expect(text).toContain('bad\\x0dthing');
    expect(text).toContain('lock: 1 of 1 slot held: zincati-1 since unknown\n');
    expect(text).toContain('by operator: wait for\\x1b[2J monday\n');
    expect(text.split('\n').filter((l) => l.startsWith('n1'))).toHaveLength(1);
  });
});
