import { mkdir, open, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { compareVersions } from './version-order.js';

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
}

export const emptyNodeState: NodeState = { failedVersions: [] };

/** Reads status.json under `dir`; a missing or unreadable file is an empty state. */
export async function readNodeState(dir: string): Promise<NodeState> {
  try {
    const parsed = JSON.parse(await readFile(join(dir, 'status.json'), 'utf8')) as NodeState;
    return { ...parsed, failedVersions: Array.isArray(parsed.failedVersions) ? parsed.failedVersions : [] };
  } catch {
    return { ...emptyNodeState };
  }
}

/** Writes status.json atomically. */
export async function writeNodeState(dir: string, state: NodeState): Promise<void> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, 'status.json');
  await writeFile(`${path}.tmp`, JSON.stringify(state, null, 2) + '\n');
  const file = await open(`${path}.tmp`, 'r');
  await file.sync();
  await file.close();
  await rename(`${path}.tmp`, path);
  const dirHandle = await open(dir, 'r');
  await dirHandle.sync();
  await dirHandle.close();
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
