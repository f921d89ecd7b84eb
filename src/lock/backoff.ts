/**
 * Jittered exponential backoff, pure (randomness passed in). Used only after errors: a
 * waiter on a full semaphore watches the key instead of sleeping.
 */

/** Delay before retry number `attempt` (0-based): between half and all of min(cap, base · 2^attempt) ("equal jitter"). */
export function backoffDelayMs(attempt: number, random: () => number, baseMs = 25, capMs = 1000): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 20));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
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
