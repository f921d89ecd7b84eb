/**
 * The rollout brake's policy (`keel.update.rollout` in cloud-config, `update.conf`):
 * `max_failures`, a count or a percentage of the group, and `health_deadline`, how long
 * after its reboot a node has to pass its health gate before it counts as failed. Pure.
 */
import { KeelError } from '../errors.js';
import { readDurationMs } from '../duration.js';

export type MaxFailures = { kind: 'count'; count: number } | { kind: 'percent'; percent: number };

export interface RolloutPolicy {
  maxFailures: MaxFailures;
  healthDeadlineMs: number;
}

/** One failed node halts a rollout unless told otherwise: a bad release should cost one host. */
export const defaultRolloutPolicy: RolloutPolicy = { maxFailures: { kind: 'count', count: 1 }, healthDeadlineMs: 10 * 60_000 };

/** `3` or `5%` (a percentage may have decimals: `0.5%`). At least one failure, at most 100 %. */
export function parseMaxFailures(text: string, what = 'max_failures'): MaxFailures {
  const t = text.trim();
  const count = /^[0-9]{1,9}$/.exec(t);
  if (count) {
    const n = Number(t);
    if (n >= 1) return { kind: 'count', count: n };
  }
  const pct = /^([0-9]{1,3}(?:\.[0-9]{1,3})?)\s*%$/.exec(t);
  if (pct) {
    const p = Number(pct[1]);
    if (p > 0 && p <= 100) return { kind: 'percent', percent: p };
  }
  throw new KeelError('invalid-input', `${what}: expected a number of failed nodes (1 or more) or a percentage of the group (e.g. 5%, above 0 and at most 100), found ${JSON.stringify(text)}`);
}

export function formatMaxFailures(m: MaxFailures): string {
  return m.kind === 'count' ? String(m.count) : `${m.percent}%`;
}

/**
 * How many failed nodes halt the rollout in a group of `groupSize` nodes: a percentage rounds
 * up and is never below one, so `1%` of 10 nodes halts on the first failure.
 */
export function failureLimit(m: MaxFailures, groupSize: number): number {
  if (m.kind === 'count') return m.count;
  return Math.max(1, Math.ceil((m.percent * Math.max(0, groupSize)) / 100 - 1e-9));
}

/** The policy from its text fields; either may be absent (the default is kept). */
export function parseRolloutPolicy(fields: { maxFailures?: string; healthDeadline?: string }): RolloutPolicy {
  const healthDeadlineMs = fields.healthDeadline !== undefined ? readDurationMs(fields.healthDeadline, 'health_deadline') : defaultRolloutPolicy.healthDeadlineMs;
  if (healthDeadlineMs <= 0) throw new KeelError('invalid-input', `health_deadline: expected a duration above zero, found ${JSON.stringify(fields.healthDeadline)}`);
  return {
    maxFailures: fields.maxFailures !== undefined ? parseMaxFailures(fields.maxFailures) : defaultRolloutPolicy.maxFailures,
    healthDeadlineMs,
  };
}

/** True when a node rebooted at `rebootedAtMs` and still not healthy at `nowMs` has missed its deadline. */
export function healthOverdue(policy: RolloutPolicy, rebootedAtMs: number, nowMs: number): boolean {
  return nowMs - rebootedAtMs >= policy.healthDeadlineMs;
}
