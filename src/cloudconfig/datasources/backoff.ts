/**
 * The polling schedule for datasource detection, as coreos-cloudinit's: start at 100 ms,
 * double after every miss, never wait more than 30 s between tries, and stop at an
 * overall deadline (5 minutes by default). Pure: the caller supplies the clock.
 */
export interface Backoff {
  initialDelayMs: number;
  maxDelayMs: number;
}

export const defaultBackoff: Backoff = { initialDelayMs: 100, maxDelayMs: 30_000 };

/** The wait before try number `attempt + 1` (attempt 0 is the first retry). */
export function backoffDelayMs(attempt: number, backoff: Backoff = defaultBackoff): number {
  const delay = backoff.initialDelayMs * 2 ** Math.min(attempt, 30);
  return Math.min(delay, backoff.maxDelayMs);
}

/**
 * The wait before the next try, clipped so it never passes the deadline; undefined when the
 * deadline has come and no more tries should be made.
 */
export function nextPollDelayMs(attempt: number, nowMs: number, deadlineMs: number, backoff: Backoff = defaultBackoff): number | undefined {
  if (nowMs >= deadlineMs) return undefined;
  return Math.min(backoffDelayMs(attempt, backoff), deadlineMs - nowMs);
}
