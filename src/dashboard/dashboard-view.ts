/**
 * The page's data model, pure: a group's raw keys (as FleetStore.read returns them) to what
 * the dashboard shows and `/api/v1` returns: the version bar, the rollouts with their halt,
 * the reboot slots with holder, hostname and time held, the node rows, the audit trail, and
 * each node's state history as seen by this server. Built on `fleetStatus`, so the page and
 * `keel fleet status` never disagree; bad records are warnings, never a failure.
 */
import { fleetStatus, type FleetInput, type RolloutLine } from '../fleet/fleet-status.js';
import { auditPrefix, readAuditRecord, type AuditRecord } from './audit-record.js';

export interface VersionBar {
  version: string;
  nodes: number;
  /** Live nodes on this version that failed (health gate or a rollout's count). */
  failed: number;
}

/** A rollout as the page shows it: the status line's own shape. */
export type RolloutView = RolloutLine;

export interface SlotView {
  holder: string;
  hostname?: string;
  since?: string;
  heldForMs?: number;
}

export interface HistoryEntry {
  state: string;
  version: string;
  since: string;
}

export interface NodeRow {
  machineId: string;
  hostname: string;
  version: string;
  slot: string;
  state: string;
  stateSince: string;
  forMs: number;
  lost: boolean;
  failed: boolean;
  staged?: string;
  lastCheck?: string;
  lastError?: { message: string; at: string };
  health?: { verdict: string; at: string; detail?: string };
  holdsSlot: boolean;
  history: HistoryEntry[];
}

export interface GroupView {
  group: string;
  revision: number;
  versions: VersionBar[];
  rollouts: RolloutView[];
  slots: { total: number; holders: SlotView[] } | null;
  nodes: NodeRow[];
  audit: AuditRecord[];
  warnings: string[];
}

/** Node id → states seen, oldest first. */
export type NodeHistory = ReadonlyMap<string, readonly HistoryEntry[]>;

/** How many states a node's history keeps, and audit records a group shows. */
export const historyLength = 20;
export const auditShown = 50;

/** The history with each node's present state appended when it differs from the last one seen. */
export function nextHistory(previous: NodeHistory, rows: readonly Pick<NodeRow, 'machineId' | 'state' | 'version' | 'stateSince'>[]): Map<string, HistoryEntry[]> {
  const out = new Map<string, HistoryEntry[]>();
  for (const row of rows) {
    const seen = [...(previous.get(row.machineId) ?? [])];
    const last = seen[seen.length - 1];
    if (!last || last.state !== row.state || last.version !== row.version || last.since !== row.stateSince) seen.push({ state: row.state, version: row.version, since: row.stateSince });
    out.set(row.machineId, seen.slice(-historyLength));
  }
  return out;
}

/** Audit keys apart from the rest: the status reader knows only nodes, lost and rollouts. */
function splitAudit(input: FleetInput): { rest: FleetInput; audit: AuditRecord[]; warnings: string[] } {
  const prefix = auditPrefix(input.group);
  const entries = new Map<string, string>();
  const audit: AuditRecord[] = [];
  const warnings: string[] = [];
  for (const [key, value] of input.entries) {
    if (!key.startsWith(prefix)) entries.set(key, value);
    else {
      const read = readAuditRecord(key, value);
      if ('warning' in read) warnings.push(read.warning);
      else audit.push(read.record);
    }
  }
  audit.sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0));
  return { rest: { ...input, entries }, audit: audit.slice(0, auditShown), warnings };
}

/** One group's view from what etcd holds at `revision`; `history` is this server's memory of states. */
export function groupView(input: FleetInput, revision: number, history: NodeHistory = new Map()): GroupView {
  const { rest, audit, warnings } = splitAudit(input);
  const status = fleetStatus(rest);
  const failed = new Set(status.summary.failed);
  const holders = new Set(status.summary.lock?.holders.map((h) => h.id) ?? []);
  const nodes: NodeRow[] = status.nodes.map(({ record: r, lost, forMs }) => ({
    machineId: r.machineId,
    hostname: r.hostname,
    version: r.version,
    slot: r.slot,
    state: r.state,
    stateSince: r.stateSince,
    forMs,
    lost,
    failed: failed.has(r.machineId),
    ...(r.staged !== undefined ? { staged: r.staged } : {}),
    ...(r.lastCheck !== undefined ? { lastCheck: r.lastCheck } : {}),
    ...(r.lastError ? { lastError: r.lastError } : {}),
    ...(r.health ? { health: r.health } : {}),
    holdsSlot: !lost && (r.rebootSlot !== undefined || holders.has(r.machineId)),
    history: [...(history.get(r.machineId) ?? [])],
  }));
  const versions = new Map<string, VersionBar>();
  for (const n of nodes) {
    if (n.lost) continue;
    const bar = versions.get(n.version) ?? { version: n.version, nodes: 0, failed: 0 };
    bar.nodes++;
    if (n.failed) bar.failed++;
    versions.set(n.version, bar);
  }
  const lock = status.summary.lock;
  return {
    group: input.group,
    revision,
    versions: [...versions.values()].sort((a, b) => (a.version < b.version ? -1 : a.version > b.version ? 1 : 0)),
    rollouts: status.summary.rollouts,
    slots: lock ? { total: lock.totalSlots, holders: lock.holders.map((h) => ({ holder: h.id, ...(h.hostname ? { hostname: h.hostname } : {}), ...(h.since ? { since: h.since } : {}), ...(h.heldForMs !== undefined ? { heldForMs: h.heldForMs } : {}) })) } : null,
    nodes,
    audit,
    warnings: [...status.warnings, ...warnings],
  };
}

/** Whether the server reaches etcd now; while it does not, the last views stay and the page shows a banner. */
export interface EtcdState {
  connected: boolean;
  /** Since when the present state holds. */
  since: string;
  error?: string;
}

export interface DashboardView {
  generatedAt: string;
  etcd: EtcdState;
  groups: GroupView[];
}
