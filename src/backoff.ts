/**
 * keel's one backoff: a delay that doubles from `initialDelayMs` up to `maxDelayMs`, pure
 * (clock and randomness passed in). Four users, one schedule:
 * - the reboot lock retries etcd and FleetLock errors with it, jittered, and steps aside
 *   after losing two swaps of the semaphore in a row (a waiter on a full semaphore
 *   watches the key instead of sleeping);
 * - the fleet store retries a rollout record's change with it after etcd errors, and pauses
 *   a random part of it after losing the record's compare-and-swap;
 * - datasource detection polls with it, as coreos-cloudinit does, clipped to a deadline;
 * - the container supervisor restarts a failing container after it, starting over once the
 *   container has stayed up long enough (docker's 10 s rule), on systemd < 254, which has
 *   no RestartSteps= (see src/containers/unit-from-spec.ts).
 */

/** A doubling schedule. */
export interface Backoff {
  initialDelayMs: number;
  maxDelayMs: number;
}

/** The delay before retry number `attempt` (0-based): min(max, initial · 2^attempt). */
export function backoffDelayMs(attempt: number, backoff: Backoff): number {
  // The exponent is bounded so a long streak cannot overflow to Infinity before the cap.
  return Math.min(backoff.maxDelayMs, backoff.initialDelayMs * 2 ** Math.min(Math.max(attempt, 0), 40));
}

/**
 * Between half and all of backoffDelayMs ("equal jitter"), so nodes that failed together do
 * not retry together and none retries at once.
 */
export function jitteredDelayMs(attempt: number, random: () => number, backoff: Backoff): number {
  const ceiling = backoffDelayMs(attempt, backoff);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/**
 * The wait before the next poll, clipped so it never passes the deadline; undefined when the
 * deadline has come and no more polls should be made.
 */
export function nextPollDelayMs(attempt: number, nowMs: number, deadlineMs: number, backoff: Backoff): number | undefined {
  if (nowMs >= deadlineMs) return undefined;
  return Math.min(backoffDelayMs(attempt, backoff), deadlineMs - nowMs);
}

/** Sleeps `ms`, rejecting early with the signal's reason when it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** A restarted process that ran this long before failing is considered healthy again. */
export const backoffResetAfterMs = 10_000;

/** Failures in a row of something restarted after each one. */
export interface BackoffState {
  /** Failures in a row, counting the last one. */
  failures: number;
  /** When it last became active (ms since epoch); undefined while it is not. */
  activeSinceMs: number | undefined;
}

export const initialBackoff: BackoffState = { failures: 0, activeSinceMs: undefined };

/** It became active at `nowMs`. */
export function backoffActive(state: BackoffState, nowMs: number): BackoffState {
  return { ...state, activeSinceMs: state.activeSinceMs ?? nowMs };
}

/** It failed at `nowMs`: the new state and how long to wait before restarting it. */
export function backoffFailed(state: BackoffState, nowMs: number, backoff: Backoff): { state: BackoffState; delayMs: number } {
  const ranLong = state.activeSinceMs !== undefined && nowMs - state.activeSinceMs >= backoffResetAfterMs;
  const failures = ranLong ? 1 : state.failures + 1;
  return { state: { failures, activeSinceMs: undefined }, delayMs: backoffDelayMs(failures - 1, backoff) };
}
