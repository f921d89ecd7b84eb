// Sample raw keys of a group, as FleetStore.read returns them: three nodes during a
// rollout of 2.0.0 that one node failed, one holder of the reboot lock, one audit record.
import type { FleetInput } from '../../../src/fleet/fleet-status.js';
import { formatNodeRecord, nodeRecord, type NodeFacts } from '../../../src/fleet/node-record.js';
import { formatRolloutRecord, newRollout, recordFailed, type RolloutRecord } from '../../../src/fleet/rollout-record.js';
import { auditSchema, formatAuditRecord } from '../../../src/dashboard/audit-record.js';

export const now = Date.parse('2026-12-03T12:00:00.000Z');

export const node = (id: string, over: Partial<NodeFacts> = {}) =>
  formatNodeRecord(nodeRecord({ machineId: id, hostname: `host-${id}`, version: '1.0.0', slot: 'a', state: 'steady', stateSince: '2026-12-03T11:00:00.000Z', updatedAt: '2026-12-03T11:00:00.000Z', ...over }));

export const haltedRollout: RolloutRecord = (() => {
  const step = recordFailed(newRollout('2.0.0', '2026-12-03T11:30:00.000Z'), { machineId: 'n2', error: 'health gate failed: web.service inactive', at: '2026-12-03T11:40:00.000Z' }, { maxFailures: { kind: 'count', count: 1 }, healthDeadlineMs: 1 }, 3);
  return (step as { record: RolloutRecord }).record;
})();

export function sampleInput(over: Record<string, string> = {}): FleetInput {
  return {
    group: 'web',
    entries: new Map(
      Object.entries({
        '/keel/fleet/web/nodes/n1': node('n1', { version: '2.0.0', slot: 'b', state: 'steady', lastCheck: '2026-12-03T11:59:00.000Z', health: { verdict: 'passed', at: '2026-12-03T11:20:00.000Z' } }),
        '/keel/fleet/web/nodes/n2': node('n2', { state: 'rolled-back', lastError: { message: 'health gate failed: web.service inactive', at: '2026-12-03T11:40:00.000Z' }, health: { verdict: 'failed', at: '2026-12-03T11:40:00.000Z' } }),
        '/keel/fleet/web/nodes/n3': node('n3', { state: 'rebooting', staged: '2.0.0', stateSince: '2026-12-03T11:58:00.000Z', rebootSlot: { since: '2026-12-03T11:58:00.000Z' } }),
        '/keel/fleet/web/rollouts/2.0.0': formatRolloutRecord(haltedRollout),
        '/keel/fleet/web/rollouts/2.0.0/started/n1': '2026-12-03T11:10:00.000Z',
        '/keel/fleet/web/rollouts/2.0.0/started/n2': '2026-12-03T11:30:00.000Z',
        '/keel/fleet/web/rollouts/2.0.0/succeeded/n1': '2026-12-03T11:20:00.000Z',
        '/keel/fleet/web/audit/2026-12-03T11:45:00.000Z-0000abcd': formatAuditRecord({ schema: auditSchema, at: '2026-12-03T11:45:00.000Z', who: { name: 'alice', via: 'token' }, action: 'halt', target: '2.0.0', reason: 'looking', result: 'unchanged: already halted' }),
        ...over,
      }),
    ),
    semaphore: '{"total_slots":1,"holders":["n3"]}',
    semaphoreKey: 'com.coreos.airlock/groups/web/v1/semaphore',
    holderSince: new Map([['n3', '2026-12-03T11:58:00.000Z']]),
    nowMs: now,
  };
}
