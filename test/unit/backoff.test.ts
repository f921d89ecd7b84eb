// keel's one backoff (src/backoff.ts): the reboot lock's jittered retries, datasource
// polling to a deadline, and container restarts share one doubling schedule. The tables
// of the three former copies (lock, datasources, containers) are merged here.
import { describe, expect, test } from 'vitest';
import { backoffActive, backoffDelayMs, backoffFailed, backoffResetAfterMs, initialBackoff, jitteredDelayMs, nextPollDelayMs, sleep, type BackoffState } from '../../src/backoff.js';
import { defaultBackoff } from '../../src/cloudconfig/datasources/index.js';

describe('the doubling schedule', () => {
  test.each([
    [0, 100], [1, 200], [2, 400], [5, 3200], [8, 25_600], [9, 30_000], [50, 30_000], [5000, 30_000],
  ])('datasource polling: attempt %i waits %i ms', (attempt, expected) => {
    expect(backoffDelayMs(attempt, defaultBackoff)).toBe(expected);
  });
  test('a huge attempt number stays finite', () => expect(backoffDelayMs(1e9, { initialDelayMs: 1, maxDelayMs: Number.MAX_SAFE_INTEGER })).toBe(2 ** 40));
});

describe('jitter (the reboot lock)', () => {
  const lock = { initialDelayMs: 25, maxDelayMs: 1000 };
  test('grows, caps, and jitters within [ceiling/2, ceiling]', () => {
    expect(jitteredDelayMs(0, () => 0, lock)).toBe(13);
    expect(jitteredDelayMs(0, () => 1, lock)).toBe(25);
    expect(jitteredDelayMs(3, () => 1, lock)).toBe(200);
    expect(jitteredDelayMs(30, () => 1, lock)).toBe(1000);
    expect(jitteredDelayMs(30, () => 0, lock)).toBe(500);
  });
});

describe('polling to a deadline (datasources)', () => {
  test.each([
    ['before the deadline', 3, 1000, 10_000, 800],
    ['clipped to the deadline', 9, 1000, 2000, 1000],
    ['at the deadline', 0, 2000, 2000, undefined],
    ['past the deadline', 0, 3000, 2000, undefined],
  ])('%s', (_, attempt, now, deadline, expected) => {
    expect(nextPollDelayMs(attempt, now, deadline, defaultBackoff)).toBe(expected);
  });

  test('the waits before the 5 minute deadline add up to it and stay under 30 s each', () => {
    let now = 0;
    const waits: number[] = [];
    for (let attempt = 0; ; attempt++) {
      const wait = nextPollDelayMs(attempt, now, 300_000, defaultBackoff);
      if (wait === undefined) break;
      waits.push(wait);
      now += wait;
    }
    expect(now).toBe(300_000);
    expect(Math.max(...waits)).toBe(30_000);
    expect(waits.slice(0, 3)).toEqual([100, 200, 400]);
  });
});

describe('restart streaks (containers)', () => {
  const restart = { initialDelayMs: 500, maxDelayMs: 4000 };
  test('doubles from the delay up to the cap while failures follow each other', () => {
    let s: BackoffState = initialBackoff;
    const delays: number[] = [];
    for (let t = 0; t < 6; t++) {
      s = backoffActive(s, t * 1000);
      const r = backoffFailed(s, t * 1000 + 100, restart);
      s = r.state;
      delays.push(r.delayMs);
    }
    expect(delays).toEqual([500, 1000, 2000, 4000, 4000, 4000]);
  });
  test('starts over after a long enough run', () => {
    let s = backoffFailed(backoffFailed(initialBackoff, 0, restart).state, 10, restart).state;
    expect(s.failures).toBe(2);
    s = backoffActive(s, 1000);
    expect(backoffFailed(s, 1000 + backoffResetAfterMs, restart)).toEqual({ state: { failures: 1, activeSinceMs: undefined }, delayMs: 500 });
  });
  test('a failure while never active keeps counting', () => {
    const s = backoffFailed(backoffFailed(initialBackoff, 0, restart).state, 60_000, restart);
    expect(s.delayMs).toBe(1000);
  });
});

describe('sleep', () => {
  test('an aborted signal rejects at once with its reason', async () => {
    await expect(sleep(60_000, AbortSignal.abort(new Error('stop')))).rejects.toThrow('stop');
  });
  test('an abort during the sleep rejects it', async () => {
    const c = new AbortController();
    const slept = sleep(60_000, c.signal);
    c.abort(new Error('later'));
    await expect(slept).rejects.toThrow('later');
  });
  test('resolves after the delay', async () => {
    await expect(sleep(1)).resolves.toBeUndefined();
  });
});
