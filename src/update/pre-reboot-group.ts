/**
 * The pre-reboot check "no node of group G is failed or rebooting" (PRE_REBOOT_GROUP_CLEAR=G):
 * read the records of G's nodes that need attention (the copies their publishers keep while
 * they are failed or rebooting: src/fleet/node-attention.ts) and its reboot lock's holders at
 * one etcd revision, and refuse while another node is failed (state `unhealthy` or
 * `rolled-back`, or its health gate failed) or rebooting (state `rebooting`, a reboot slot in
 * its record, or a holder of G's semaphore). Those copies go with the node's lease, so a lost
 * node does not count unless it still holds a slot: a dead node must not stop a group for the
 * day its lost copy lasts, and a node that is really rebooting holds its slot until its health
 * gate passes. The judgement is pure. (An agent of a keel before these copies writes none:
 * its failures are seen by its slot alone.)
 */
import { parseSemaphore } from '../lock/semaphore.js';
import { semaphoreKey } from '../lock/group-keys.js';
import { parseFleetKey } from '../fleet/fleet-keys.js';
import { readNodeRecord, type NodeRecord } from '../fleet/node-record.js';
import { attentionReason } from '../fleet/node-attention.js';

/** What the check reads from etcd: the group's `attention/` keys and the semaphore's value, at one revision. */
export interface GroupNodes {
  entries: Map<string, string>;
  semaphore?: string;
}

/** The edge: FleetStore.readAttention, and this node's machine id (it never blocks itself). */
export interface GroupProbe {
  machineId: string;
  readAttention(group: string): Promise<GroupNodes>;
  /** Told of each record skipped as malformed (never a reason to refuse). */
  warn?(message: string): void;
}

/** Why group `group` is not clear for `self`, or undefined; bad records are warnings, a bad semaphore is a reason. */
export function judgeGroup(group: string, self: string, read: GroupNodes, warnings: string[] = []): string | undefined {
  const nodes: NodeRecord[] = [];
  for (const [key, value] of read.entries) {
    const parsed = parseFleetKey(group, key);
    if (parsed?.kind !== 'attention') continue;
    const r = readNodeRecord(key, value, parsed.machineId);
    if ('warning' in r) warnings.push(r.warning);
    else nodes.push(r.record);
  }
  let holders: string[] = [];
  if (read.semaphore !== undefined) {
    try {
      holders = parseSemaphore(read.semaphore, semaphoreKey(group)).holders;
    } catch (error) {
      return `pre-reboot group ${group}: cannot tell who holds its reboot slots (${(error as Error).message.replace(/; refusing to change it$/, '')})`;
    }
  }
  const hostOf = new Map(nodes.map((n) => [n.machineId, n.hostname]));
  const who = (id: string) => (hostOf.has(id) && hostOf.get(id) !== id ? `${id} (${hostOf.get(id)})` : id);
  const reasons = new Map<string, string>();
  for (const n of [...nodes].sort((a, b) => (a.machineId < b.machineId ? -1 : 1))) {
    if (n.machineId === self) continue;
    const why = attentionReason(n);
    if (why) reasons.set(n.machineId, why);
  }
  for (const id of holders) if (id !== self && !reasons.has(id)) reasons.set(id, 'holds a reboot slot');
  if (reasons.size === 0) return undefined;
  const clauses = [...reasons].map(([id, why]) => `${who(id)} ${why}`);
  const shown = clauses.length > 5 ? [...clauses.slice(0, 5), `${clauses.length - 5} more`] : clauses;
  return `pre-reboot group ${group} is not clear: ${shown.join(', ')}`;
}

/** Reads the group through the probe and judges it; etcd not answering is the reason. */
export async function groupClearProblem(group: string, probe: GroupProbe): Promise<string | undefined> {
  let read: GroupNodes;
  try {
    read = await probe.readAttention(group);
  } catch (error) {
    return `pre-reboot group ${group}: cannot read its nodes (${(error as Error).message})`;
  }
  const warnings: string[] = [];
  const problem = judgeGroup(group, probe.machineId, read, warnings);
  for (const w of warnings) probe.warn?.(w);
  return problem;
}
