/**
 * GET with a timeout and a few retries, for the HTTP datasources (metadata services and
 * `cloud-config-url=`). A 404 is an answer, returned at once; connection errors, timeouts
 * and 5xx are retried with a short doubling delay, then reported as `unavailable`.
 */
import { KeelError } from '../../errors.js';

export interface FetchOptions {
  timeoutMs: number;
  retries: number;
  maxBytes: number;
  /** First retry delay; doubles each time. */
  retryDelayMs?: number;
}

export interface FetchAnswer {
  status: number;
  body: Uint8Array;
}

/** Fetches `url`; resolves with any 2xx or 404 answer, rejects with `unavailable` otherwise. */
export async function fetchWithRetry(url: string, options: FetchOptions): Promise<FetchAnswer> {
  let lastProblem = '';
  let delayMs = options.retryDelayMs ?? 200;
  for (let attempt = 0; attempt <= options.retries; attempt++) {
    if (attempt > 0) {
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      delayMs *= 2;
    }
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(options.timeoutMs), redirect: 'follow' });
      if (response.ok || response.status === 404) {
        const body = new Uint8Array(await response.arrayBuffer());
        if (body.byteLength > options.maxBytes) {
          throw new KeelError('invalid-input', `${url}: ${body.byteLength} bytes, more than the ${options.maxBytes} allowed; refusing it`);
        }
        return { status: response.status, body };
      }
      lastProblem = `HTTP ${response.status}`;
    } catch (error) {
      if (error instanceof KeelError) throw error;
      const cause = (error as { cause?: { code?: string } }).cause;
      lastProblem = cause?.code ?? (error instanceof Error ? error.message : String(error));
    }
  }
  throw new KeelError('unavailable', `${url}: ${lastProblem} after ${options.retries + 1} attempts; giving up on this source`);
}
