/**
 * Which nodes the others of their group must wait for, pure: a node that is failed (state
 * `unhealthy` or `rolled-back`, or its health gate failed) or rebooting (state `rebooting`,
 * or a reboot slot in its record). The publisher keeps a copy of such a node's record under
 * the group's `attention/` prefix (fleet-keys.ts), on the node's lease, so the pre-reboot
 * check "no node of group G is failed or rebooting" reads those few keys, not the record of
 * every node of the group (which made a roll of N nodes read N² records).
 */
import type { NodeRecord } from './node-record.js';

const failedStates = new Set(['unhealthy', 'rolled-back']);

/** Why the others must wait for this node, as a clause ("is rolled-back"), or undefined. */
export function attentionReason(record: NodeRecord): string | undefined {
  if (failedStates.has(record.state)) return `is ${record.state}`;
  if (record.health?.verdict === 'failed') return 'failed its health gate';
  if (record.state === 'rebooting') return 'is rebooting';
  if (record.rebootSlot) return 'holds a reboot slot';
  return undefined;
}
