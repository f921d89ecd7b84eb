/**
 * Health check bookkeeping, pure: consecutive failed probes against the spec's retries.
 * A container is restarted when `retries` probes in a row fail; one good probe clears
 * the count, and a restart starts it over.
 */
import type { HealthCheck } from './spec.js';

export interface HealthState {
  failuresInARow: number;
  /** The last probe's outcome, for `keel containers status`. */
  status: 'starting' | 'healthy' | 'unhealthy';
}

export const initialHealth: HealthState = { failuresInARow: 0, status: 'starting' };

/** Records one probe; `restart` says the container must be restarted now. */
export function recordProbe(state: HealthState, ok: boolean, check: Pick<HealthCheck, 'retries'>): { state: HealthState; restart: boolean } {
  if (ok) return { state: { failuresInARow: 0, status: 'healthy' }, restart: false };
  const failuresInARow = state.failuresInARow + 1;
  if (failuresInARow >= check.retries) return { state: { failuresInARow: 0, status: 'unhealthy' }, restart: true };
  return { state: { failuresInARow, status: state.status === 'healthy' ? 'healthy' : state.status }, restart: false };
}
