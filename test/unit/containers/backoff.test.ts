// Restart backoff and health bookkeeping: pure functions of a clock passed in.
import { describe, expect, test } from 'vitest';
import { backoffActive, backoffFailed, backoffResetAfterMs, initialBackoff, type BackoffState } from '../../../src/containers/backoff.js';
import { initialHealth, recordProbe, type HealthState } from '../../../src/containers/health-tracker.js';

const spec = { restartDelaySeconds: 0.5, restartMaxDelaySeconds: 4 };

describe('backoff', () => {
  test('doubles from the delay up to the cap while failures follow each other', () => {
    let s: BackoffState = initialBackoff;
    const delays: number[] = [];
    for (let t = 0; t < 6; t++) {
      s = backoffActive(s, t * 1000);
      const r = backoffFailed(s, t * 1000 + 100, spec);
      s = r.state;
      delays.push(r.delayMs);
    }
    expect(delays).toEqual([500, 1000, 2000, 4000, 4000, 4000]);
  });
  test('starts over after a long enough run', () => {
    let s = backoffFailed(backoffFailed(initialBackoff, 0, spec).state, 10, spec).state;
    expect(s.failures).toBe(2);
    s = backoffActive(s, 1000);
    expect(backoffFailed(s, 1000 + backoffResetAfterMs, spec)).toEqual({ state: { failures: 1, activeSinceMs: undefined }, delayMs: 500 });
  });
  test('a failure while never active keeps counting', () => {
    const s = backoffFailed(backoffFailed(initialBackoff, 0, spec).state, 60_000, spec);
    expect(s.delayMs).toBe(1000);
  });
});

describe('health', () => {
  test.each<[string, boolean[], boolean[], HealthState['status']]>([
    ['all good', [true, true], [false, false], 'healthy'],
    ['restart after retries failures in a row', [true, false, false, false], [false, false, false, true], 'unhealthy'],
    ['a good probe clears the count', [false, false, true, false, false], [false, false, false, false, false], 'healthy'],
    ['counts again after a restart', [false, false, false, false, false, false], [false, false, true, false, false, true], 'unhealthy'],
  ])('%s', (_t, probes, restarts, finalStatus) => {
    let s = initialHealth;
    const got: boolean[] = [];
    for (const ok of probes) {
      const r = recordProbe(s, ok, { retries: 3 });
      s = r.state;
      got.push(r.restart);
    }
    expect(got).toEqual(restarts);
    expect(s.status).toBe(finalStatus);
  });
});
