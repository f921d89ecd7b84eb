/**
 * A signal that aborts `ms` from now, or as soon as `also` does; `clear()` stops its timer.
 * Not `AbortSignal.any([AbortSignal.timeout(ms), also])`: node holds the sources of `any`
 * only weakly, so a timeout signal nothing else holds can be collected before it fires and
 * the wait it was to end goes on (nodejs/node#57736; seen as an agent's bounded wait in the
 * lock's queue that never ended). Here the timer holds the controller until it fires.
 */
export function deadlineSignal(ms: number, also?: AbortSignal): { signal: AbortSignal; clear: () => void } {
  const controller = new AbortController();
  // unref'd like AbortSignal.timeout's: a deadline alone does not keep the process up.
  const timer = setTimeout(() => controller.abort(new DOMException(`timed out after ${ms} ms`, 'TimeoutError')), ms).unref();
  return { signal: also ? AbortSignal.any([controller.signal, also]) : controller.signal, clear: () => clearTimeout(timer) };
}
