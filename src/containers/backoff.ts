/**
 * Restart backoff, pure: the delay before the next restart doubles with each failure in
 * a row, from the spec's restart_delay up to restart_max_delay, and the count starts over
 * once a container has stayed up long enough (docker's 10 s rule). The supervisor uses it
 * on systemd < 254, which has no RestartSteps= (see unit-from-spec.ts).
 */
import type { ContainerSpec } from './spec.js';

/** A container that ran this long before failing is considered healthy again. */
export const backoffResetAfterMs = 10_000;

export interface BackoffState {
  /** Failures in a row, counting the last one. */
  failures: number;
  /** When the container last became active (ms since epoch); undefined while it is not. */
  activeSinceMs: number | undefined;
}

export const initialBackoff: BackoffState = { failures: 0, activeSinceMs: undefined };

/** The container became active at `nowMs`. */
export function backoffActive(state: BackoffState, nowMs: number): BackoffState {
  return { ...state, activeSinceMs: state.activeSinceMs ?? nowMs };
}

/** The container failed at `nowMs`: the new state and how long to wait before restarting it. */
export function backoffFailed(state: BackoffState, nowMs: number, spec: Pick<ContainerSpec, 'restartDelaySeconds' | 'restartMaxDelaySeconds'>): { state: BackoffState; delayMs: number } {
  const ranLong = state.activeSinceMs !== undefined && nowMs - state.activeSinceMs >= backoffResetAfterMs;
  const failures = ranLong ? 1 : state.failures + 1;
  const baseMs = spec.restartDelaySeconds * 1000;
  const capMs = spec.restartMaxDelaySeconds * 1000;
  const delayMs = Math.min(capMs, baseMs * 2 ** Math.min(failures - 1, 40));
  return { state: { failures, activeSinceMs: undefined }, delayMs };
}
