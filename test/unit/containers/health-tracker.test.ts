// Health bookkeeping: pure functions of the probes (the restart backoff: test/unit/backoff.test.ts).
import { describe, expect, test } from 'vitest';
import { initialHealth, recordProbe, type HealthState } from '../../../src/containers/health-tracker.js';

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
