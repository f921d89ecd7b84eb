/**
 * `keel fleet status` as a pure function: the raw keys of a group (node, lost and rollout
 * records) plus the lock's semaphore value and holder times in, one line a node and a
 * summary out. Bad records become warnings naming their keys; nothing here throws on
 * what etcd holds, so one broken writer never blinds an operator.
 */
import { parseSemaphore } from '../lock/semaphore.js';
import { fleetPrefix, parseFleetKey } from './fleet-keys.js';
import { readNodeRecord, type NodeRecord } from './node-record.js';
import { newRollout, readRolloutRecord, withMarks, type Halt, type RolloutRecord } from './rollout-record.js';

/** What the store read, at one etcd revision. */
export interface FleetInput {
  group: string;
  /** Every key under `/keel/fleet/<group>/` with its value. */
  entries: Map<string, string>;
  /** The lock's semaphore value (airlock's JSON), absent when no node has taken the lock yet. */
  semaphore?: string;
  semaphoreKey?: string;
  /** Holder id → when it took its slot (keel's holder keys). */
  holderSince: Map<string, string>;
  nowMs: number;
}

export interface NodeLine {
  record: NodeRecord;
  /** Only in `lost/`: its lease expired (the node stopped or lost etcd) within the last day. */
  lost: boolean;
  /** How long it has been in its state. */
  forMs: number;
}

export interface RolloutLine {
  version: string;
  state: 'running' | 'halted';
  started: number;
  succeeded: number;
  failed: number;
  failedNodes: string[];
  halted?: Halt;
}

export interface LockLine {
  totalSlots: number;
  holders: { id: string; hostname?: string; since?: string; heldForMs?: number }[];
}

export interface FleetStatus {
  group: string;
  nodes: NodeLine[];
  summary: {
    nodes: number;
    lost: number;
    /** Running version → live nodes on it. */
    versions: Record<string, number>;
    /** Machine ids whose health gate failed or that a rollout counts as failed. */
    failed: string[];
    lock?: LockLine;
    rollouts: RolloutLine[];
  };
  warnings: string[];
}

function since(text: string, nowMs: number): number {
  return Math.max(0, nowMs - Date.parse(text));
}

function readEntries(input: FleetInput, warnings: string[]) {
  const live = new Map<string, NodeRecord>();
  const lost = new Map<string, NodeRecord>();
  const rollouts = new Map<string, RolloutRecord>();
  const marks = new Map<string, { started: string[]; succeeded: string[]; at: string }>();
  const broken = new Set<string>();
  for (const [key, value] of [...input.entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const parsed = parseFleetKey(input.group, key);
    if (!parsed) {
      // The dashboard's audit trail (src/dashboard/audit-record.ts) lives beside the records.
      if (key.startsWith(`${fleetPrefix(input.group)}audit/`)) continue;
      warnings.push(`${key}: expected nodes/<machine-id>, lost/<machine-id>, attention/<machine-id>, rollouts/<version> or rollouts/<version>/started|succeeded/<machine-id> under the group; skipping this key`);
      continue;
    }
    if (parsed.kind === 'rollout') {
      const r = readRolloutRecord(key, value, parsed.version);
      if ('warning' in r) (warnings.push(r.warning), broken.add(parsed.version));
      else rollouts.set(parsed.version, r.record);
      continue;
    }
    if (parsed.kind === 'mark') {
      const m = marks.get(parsed.version) ?? { started: [], succeeded: [], at: value };
      m[parsed.mark].push(parsed.machineId);
      marks.set(parsed.version, m);
      continue;
    }
    // A copy of a live record (node-attention.ts): the record itself is read.
    if (parsed.kind === 'attention') continue;
    const r = readNodeRecord(key, value, parsed.machineId);
    if ('warning' in r) warnings.push(r.warning);
    else (parsed.kind === 'node' ? live : lost).set(parsed.machineId, r.record);
  }
  // Marks without a stored value are a rollout that nothing has failed or halted yet.
  for (const [version, m] of marks) {
    if (broken.has(version)) continue;
    const base = rollouts.get(version) ?? newRollout(version, Number.isNaN(Date.parse(m.at)) ? new Date(0).toISOString() : m.at);
    rollouts.set(version, withMarks(base, m.started, m.succeeded));
  }
  return { live, lost, rollouts: [...rollouts.values()].sort((a, b) => (a.version < b.version ? -1 : 1)) };
}

function lockLine(input: FleetInput, hostnames: Map<string, string>, warnings: string[]): LockLine | undefined {
  if (input.semaphore === undefined) return undefined;
  let semaphore;
  try {
    semaphore = parseSemaphore(input.semaphore, input.semaphoreKey);
  } catch (error) {
    warnings.push(`${(error as Error).message.replace(/; refusing to change it$/, '')}; showing no lock`);
    return undefined;
  }
  const holders = semaphore.holders.map((id) => {
    const at = input.holderSince.get(id);
    const host = hostnames.get(id);
    const valid = at !== undefined && !Number.isNaN(Date.parse(at));
    return { id, ...(host ? { hostname: host } : {}), ...(valid ? { since: at, heldForMs: since(at, input.nowMs) } : {}) };
  });
  return { totalSlots: semaphore.totalSlots, holders };
}

/** The status of a group from what etcd holds. */
export function fleetStatus(input: FleetInput): FleetStatus {
  const warnings: string[] = [];
  const { live, lost, rollouts } = readEntries(input, warnings);
  const nodes: NodeLine[] = [];
  for (const record of live.values()) nodes.push({ record, lost: false, forMs: since(record.stateSince, input.nowMs) });
  for (const [id, record] of lost) if (!live.has(id)) nodes.push({ record, lost: true, forMs: since(record.stateSince, input.nowMs) });
  nodes.sort((a, b) => (a.record.machineId < b.record.machineId ? -1 : 1));
  const versions: Record<string, number> = {};
  for (const n of nodes) if (!n.lost) versions[n.record.version] = (versions[n.record.version] ?? 0) + 1;
  const failed = new Set<string>();
  for (const n of nodes) if (n.record.health?.verdict === 'failed') failed.add(n.record.machineId);
  for (const r of rollouts) for (const f of r.failed) failed.add(f.machineId);
  const hostnames = new Map(nodes.map((n) => [n.record.machineId, n.record.hostname]));
  const lock = lockLine(input, hostnames, warnings);
  return {
    group: input.group,
    nodes,
    summary: {
      nodes: nodes.filter((n) => !n.lost).length,
      lost: nodes.filter((n) => n.lost).length,
      versions,
      failed: [...failed].sort(),
      ...(lock ? { lock } : {}),
      rollouts: rollouts.map((r) => ({
        version: r.version,
        state: r.halted ? 'halted' : 'running',
        started: r.started.length,
        succeeded: r.succeeded.length,
        failed: r.failed.length,
        failedNodes: r.failed.map((f) => f.machineId),
        ...(r.halted ? { halted: r.halted } : {}),
      })),
    },
    warnings,
  };
}
