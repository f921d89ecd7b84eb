import { describe, expect, test } from 'vitest';
import { backoffDelayMs, nextPollDelayMs } from '../../../../src/cloudconfig/datasources/backoff.js';

describe('datasource polling backoff', () => {
  test.each([
    [0, 100], [1, 200], [2, 400], [5, 3200], [8, 25_600], [9, 30_000], [50, 30_000], [5000, 30_000],
  ])('attempt %i waits %i ms', (attempt, expected) => {
    expect(backoffDelayMs(attempt)).toBe(expected);
  });

  test.each([
    ['before the deadline', 3, 1000, 10_000, 800],
    ['clipped to the deadline', 9, 1000, 2000, 1000],
    ['at the deadline', 0, 2000, 2000, undefined],
    ['past the deadline', 0, 3000, 2000, undefined],
  ])('%s', (_, attempt, now, deadline, expected) => {
    expect(nextPollDelayMs(attempt, now, deadline)).toBe(expected);
  });

  test('the waits before the 5 minute deadline add up to it and stay under 30 s each', () => {
    let now = 0;
    const waits: number[] = [];
    for (let attempt = 0; ; attempt++) {
      const wait = nextPollDelayMs(attempt, now, 300_000);
      if (wait === undefined) break;
      waits.push(wait);
      now += wait;
    }
    expect(now).toBe(300_000);
    expect(Math.max(...waits)).toBe(30_000);
    expect(waits.slice(0, 3)).toEqual([100, 200, 400]);
  });
});
