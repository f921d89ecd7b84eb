import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { compareVersions, isVersion } from './version-order.js';
import type { Release } from './release.js';
import { onPath } from '../host/fs-failure.js';
import { writeFileCrashSafe } from '../host/crash-safe-write.js';

/**
 * What this node remembers about updates across restarts and reboots, in
 * /var/lib/keel/update/status.json: the highest version seen in verified metadata (so
 * replayed metadata cannot walk it back), versions that failed their health gate (never
 * installed again), and what `keel update status` reports: last check, last error, staging.
 */
export interface NodeState {
  highestSeen?: string;
  failedVersions: string[];
  lastCheck?: string;
  lastCheckResult?: string;
  lastError?: string;
  /** A reboot lock this node took and has not released yet. */
  lockHeld?: boolean;
  /** Reboots the agent made because the booted slot failed its health gate, per version. */
  unhealthyReboots?: Record<string, number>;
  /** The agent's current state name, for status. */
  agentState?: string;
  /** Per slot, the version whose boot last passed the health gate there (counted-boots.ts). */
  blessed?: Partial<Record<'a' | 'b', string>>;
}

/** The node state with the agent's own fields: the staged release and the version it rebooted into. */
/** `rebootingAt`: when the reboot into `rebootingTo` was asked for (the health deadline counts from it). */
export type StoredNodeState = NodeState & { staged?: Release; rebootingTo?: string; rebootingAt?: string };

export const emptyNodeState: NodeState = { failedVersions: [] };

/** Reads status.json under `dir`; a missing or unreadable file is an empty state. */
export async function readNodeState(dir: string): Promise<NodeState> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(join(dir, 'status.json'), 'utf8'));
  } catch {
    return { ...emptyNodeState };
  }
  return nodeStateOf(parsed);
}

/**
 * Drops fields of the wrong type (a damaged status.json must not crash a version comparison);
 * fields this file does not know (the agent's own, such as `staged`) are kept as they are.
 */
function nodeStateOf(parsed: unknown): NodeState {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { ...emptyNodeState };
  const out = { ...(parsed as Record<string, unknown>) };
  const drop = (key: string, ok: (v: unknown) => boolean) => {
    if (key in out && !ok(out[key])) delete out[key];
  };
  const isString = (v: unknown) => typeof v === 'string';
  drop('highestSeen', (v) => typeof v === 'string' && isVersion(v));
  for (const key of ['lastCheck', 'lastCheckResult', 'lastError', 'agentState', 'rebootingTo', 'rebootingAt']) drop(key, isString);
  drop('lockHeld', (v) => typeof v === 'boolean');
  drop('unhealthyReboots', (v) => typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every(Number.isSafeInteger));
  drop('blessed', (v) => typeof v === 'object' && v !== null && !Array.isArray(v) && Object.entries(v).every(([k, x]) => (k === 'a' || k === 'b') && typeof x === 'string'));
  drop('staged', (v) => typeof v === 'object' && v !== null && typeof (v as Record<string, unknown>).version === 'string' && typeof (v as Record<string, unknown>).slot === 'object' && (v as Record<string, unknown>).slot !== null);
  const failed = out.failedVersions;
  return { ...out, failedVersions: Array.isArray(failed) ? failed.filter(isString) : [] } as NodeState;
}

/** Writes status.json crash-safely (host/crash-safe-write.ts). */
export async function writeNodeState(dir: string, state: NodeState): Promise<void> {
  const path = join(dir, 'status.json');
  await onPath(path, 'write the update state', async () => {
    await mkdir(dir, { recursive: true });
    await writeFileCrashSafe(path, Buffer.from(JSON.stringify(state, null, 2) + '\n'));
  });
}

/** Reads, changes and writes status.json. */
export async function updateNodeState(dir: string, change: (s: NodeState) => NodeState): Promise<NodeState> {
  const next = change(await readNodeState(dir));
  await writeNodeState(dir, next);
  return next;
}

/** The higher of two optional versions. */
export function maxVersion(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return compareVersions(a, b) >= 0 ? a : b;
}
