import { createHash } from 'node:crypto';
import type { RolloutStep } from './release.js';

/**
 * Phased rollouts. A release may carry a schedule (percentage over time); each node has a
 * stable position in [0, 1) from a hash of its machine id and the release version, so the
 * same node is early for one release and late for another, and a fleet takes a release in
 * waves. A node's wariness (Zincati's `rollout_wariness`), when set, replaces the hash.
 */

/** The percentage (0–100) a schedule allows at `nowMs`: linear between steps, 0 before the first. */
export function rolloutPercentAt(steps: readonly RolloutStep[] | undefined, nowMs: number): number {
  if (!steps || steps.length === 0) return 100;
  const sorted = [...steps].map((s) => ({ t: Date.parse(s.at), p: clamp(s.percent, 0, 100) })).filter((s) => Number.isFinite(s.t)).sort((a, b) => a.t - b.t);
  const first = sorted[0];
  if (!first || nowMs < first.t) return 0;
  for (let i = 0; i < sorted.length - 1; i++) {
    const a = sorted[i]!;
    const b = sorted[i + 1]!;
    if (nowMs < b.t) return a.p + ((b.p - a.p) * (nowMs - a.t)) / (b.t - a.t);
  }
  return sorted[sorted.length - 1]!.p;
}

/** A node's position in a release's rollout, in [0, 1). */
export function rolloutPosition(machineId: string, version: string, wariness?: number): number {
  if (wariness !== undefined && Number.isFinite(wariness)) return clamp(wariness, 0, 0.999999);
  const digest = createHash('sha256').update(`${machineId}\u0000${version}`).digest();
  return digest.readUInt32BE(0) / 2 ** 32;
}

/** Whether this node may take the release now. */
export function rolloutAllows(steps: readonly RolloutStep[] | undefined, nowMs: number, machineId: string, version: string, wariness?: number): boolean {
  const percent = rolloutPercentAt(steps, nowMs);
  if (percent >= 100) return true;
  return rolloutPosition(machineId, version, wariness) * 100 < percent;
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}
