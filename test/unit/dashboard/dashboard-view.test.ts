// The page's data model from sample records: version bar with failures, the rollout and its
// halt reason, the slot holder with hostname and time held, node rows, the audit trail,
// each node's history as seen by the server, and bad records as warnings.
import { describe, expect, test } from 'vitest';
import { groupView, historyLength, nextHistory } from '../../../src/dashboard/dashboard-view.js';
import { fleetStatus } from '../../../src/fleet/fleet-status.js';
import { haltedRollout, node, sampleInput } from './sample-records.js';

describe('groupView', () => {
  test('three nodes during a halted rollout', () => {
    const v = groupView(sampleInput(), 42);
    expect(v.group).toBe('web');
    expect(v.revision).toBe(42);
    expect(v.warnings).toEqual([]);
    expect(v.versions).toEqual([
      { version: '1.0.0', nodes: 2, failed: 1 },
      { version: '2.0.0', nodes: 1, failed: 0 },
    ]);
    expect(v.rollouts).toEqual([{ version: '2.0.0', state: 'halted', started: 2, succeeded: 1, failed: 1, failedNodes: ['n2'], halted: haltedRollout.halted }]);
    expect(v.rollouts[0]!.halted).toMatchObject({ by: 'policy', machineId: 'n2', error: 'health gate failed: web.service inactive', reason: '1 of 3 nodes failed, reaching max_failures 1' });
    expect(v.slots).toEqual({ total: 1, holders: [{ holder: 'n3', hostname: 'host-n3', since: '2026-12-03T11:58:00.000Z', heldForMs: 120_000 }] });
    expect(v.nodes.map((n) => [n.machineId, n.version, n.state, n.failed, n.holdsSlot, n.forMs])).toEqual([
      ['n1', '2.0.0', 'steady', false, false, 3_600_000],
      ['n2', '1.0.0', 'rolled-back', true, false, 3_600_000],
      ['n3', '1.0.0', 'rebooting', false, true, 120_000],
    ]);
    expect(v.nodes[1]!.lastError).toEqual({ message: 'health gate failed: web.service inactive', at: '2026-12-03T11:40:00.000Z' });
    expect(v.nodes[2]!.staged).toBe('2.0.0');
    expect(v.audit).toEqual([expect.objectContaining({ who: { name: 'alice', via: 'token' }, action: 'halt', target: '2.0.0' })]);
  });

  test('a lost node is listed but counts in no version', () => {
    const v = groupView(sampleInput({ '/keel/fleet/web/lost/n9': node('n9', { version: '0.9.0' }) }), 1);
    expect(v.nodes.find((n) => n.machineId === 'n9')).toMatchObject({ lost: true, holdsSlot: false });
    expect(v.versions.map((b) => b.version)).toEqual(['1.0.0', '2.0.0']);
  });

  test.each([
    ['a malformed node', '/keel/fleet/web/nodes/n8', '{oops', '/keel/fleet/web/nodes/n8: expected JSON, found unparsable text; skipping this node record'],
    ['a foreign audit record', '/keel/fleet/web/audit/x', '{"schema":"other"}', '/keel/fleet/web/audit/x: schema: expected "keel.fleet.audit/v1", found "other"; skipping this audit record'],
  ])('%s is a warning and the rest still shows', (_name, key, value, warning) => {
    const v = groupView(sampleInput({ [key]: value }), 1);
    expect(v.warnings).toEqual([warning]);
    expect(v.nodes).toHaveLength(3);
  });

  test('keel fleet status skips the audit trail without a warning', () => {
    expect(fleetStatus(sampleInput()).warnings).toEqual([]);
  });

  test('hostile text stays data: the model carries it as it is (the page puts it in text nodes)', () => {
    const evil = '<img src=x onerror=alert(1)></td><script>alert(2)</script>';
    const v = groupView(sampleInput({ '/keel/fleet/web/nodes/n4': node('n4', { hostname: evil, lastError: { message: evil, at: '2026-12-03T11:00:00.000Z' } }) }), 1);
    expect(v.nodes.find((n) => n.machineId === 'n4')).toMatchObject({ hostname: evil, lastError: { message: evil } });
  });
});

describe('nextHistory', () => {
  const row = (state: string, since: string, version = '1.0.0') => ({ machineId: 'n1', state, version, stateSince: since });
  test('appends a state when it changes, keeps it once otherwise, and forgets nodes that are gone', () => {
    let h = nextHistory(new Map(), [row('steady', 't1')]);
    h = nextHistory(h, [row('steady', 't1')]);
    h = nextHistory(h, [row('staged', 't2')]);
    h = nextHistory(h, [row('rebooting', 't3')]);
    expect(h.get('n1')).toEqual([
      { state: 'steady', version: '1.0.0', since: 't1' },
      { state: 'staged', version: '1.0.0', since: 't2' },
      { state: 'rebooting', version: '1.0.0', since: 't3' },
    ]);
    expect(nextHistory(h, []).size).toBe(0);
  });
  test(`keeps the last ${historyLength} states`, () => {
    let h = nextHistory(new Map(), []);
    for (let i = 0; i < historyLength + 5; i++) h = nextHistory(h, [row(i % 2 ? 'a' : 'b', `t${i}`)]);
    expect(h.get('n1')).toHaveLength(historyLength);
    expect(h.get('n1')![0]!.since).toBe('t5');
  });
});
