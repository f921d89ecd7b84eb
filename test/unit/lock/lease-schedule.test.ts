import { describe, expect, test } from 'vitest';
import { answeredLease, grantedLease, isExpired, isStalled, minWakeGapMs, nextKeepAliveMs, planTick, sentLease, unsentLease, type LeaseTimes } from '../../../src/lock/lease-schedule.js';

const lease = (ttlS: number, renewedMs: number, sentMs?: number): LeaseTimes => ({ ttlMs: ttlS * 1000, renewedMs, ...(sentMs === undefined ? {} : { sentMs }) });

describe('lease schedule', () => {
  test.each([
    ['a fresh 60 s lease is due a third of its ttl after its grant', grantedLease(60, 1000), 21_000],
    ['a renewed lease is due a third after its renewal', lease(60, 30_000), 50_000],
    ['an unanswered keep-alive counts from its send', lease(60, 30_000, 50_000), 70_000],
    ['a 10 s waiter lease', lease(10, 0), 10_000 / 3],
  ])('%s', (_name, times, due) => {
    expect(nextKeepAliveMs(times)).toBeCloseTo(due, 6);
  });

  test('expired once no answer renewed it within its ttl; stalled once a send went unanswered a third of it', () => {
    expect(isExpired(lease(60, 0), 59_999)).toBe(false);
    expect(isExpired(lease(60, 0), 60_000)).toBe(true);
    expect(isExpired(lease(60, 0, 50_000), 60_000)).toBe(true); // a send does not renew: only an answer does
    expect(isStalled(lease(60, 0), 1e9)).toBe(false);
    expect(isStalled(lease(60, 0, 20_000), 39_999)).toBe(false);
    expect(isStalled(lease(60, 0, 20_000), 40_000)).toBe(true);
  });

  test('an answer renews as of the unanswered send (the earliest), a ttl of 0 means lost', () => {
    const sent = sentLease(sentLease(lease(60, 0), 20_000), 25_000);
    expect(sent.sentMs).toBe(20_000);
    expect(answeredLease(sent, 60, 20_300)).toEqual({ ttlMs: 60_000, renewedMs: 20_000 });
    expect(answeredLease(lease(60, 0), 60, 5000)).toEqual({ ttlMs: 60_000, renewedMs: 5000 });
    expect(answeredLease(sent, 0, 20_300)).toBe('lost');
    expect(answeredLease(sent, -1, 20_300)).toBe('lost');
    expect(answeredLease(sent, Number.NaN, 20_300)).toBe('lost');
    expect(unsentLease(sent)).toEqual({ ttlMs: 60_000, renewedMs: 0 });
  });

  test('a wake sends every lease due within its slack (a thirtieth of the ttl), and wakes at the next one', () => {
    const leases = new Map([
      ['due', lease(60, 0)], // due at 20 s
      ['slack', lease(60, 1500)], // due at 21.5 s, within 2 s
      ['later', lease(60, 5000)], // due at 25 s: the next wake
    ]);
    const plan = planTick(leases, 20_000);
    expect(plan).toEqual({ send: ['due', 'slack'], lost: [], reopen: false, wakeAtMs: 25_000 });
  });

  test('a sent lease is not sent again on the same stream; it wakes the keeper when it would stall', () => {
    const leases = new Map([['a', lease(60, 0, 20_000)]]);
    expect(planTick(leases, 30_000)).toEqual({ send: [], lost: [], reopen: false, wakeAtMs: 40_000 });
    expect(planTick(leases, 40_000)).toEqual({ send: [], lost: [], reopen: true, wakeAtMs: 40_000 + minWakeGapMs });
  });

  test('expired leases are lost and not sent; an empty map never wakes', () => {
    const leases = new Map([
      ['gone', lease(10, 0)],
      ['kept', lease(60, 0)],
    ]);
    const plan = planTick(leases, 10_000);
    expect(plan.lost).toEqual(['gone']);
    expect(plan.send).toEqual([]);
    expect(plan.wakeAtMs).toBe(20_000);
    expect(planTick(new Map(), 0).wakeAtMs).toBeUndefined();
  });

  test('ten thousand leases granted over a minute make a wake every couple of seconds, not one each', () => {
    const leases = new Map<number, LeaseTimes>();
    for (let i = 0; i < 10_000; i++) leases.set(i, grantedLease(60, i * 6)); // one every 6 ms over 60 s
    let now = 0;
    let wakes = 0;
    const sent = new Set<number>();
    while (sent.size < leases.size && wakes < 1000) {
      const plan = planTick(leases, now);
      for (const k of plan.send) {
        sent.add(k);
        leases.set(k, answeredLease(sentLease(leases.get(k)!, now), 60, now) as LeaseTimes);
      }
      wakes++;
      now = plan.wakeAtMs!;
    }
    expect(sent.size).toBe(10_000);
    expect(wakes).toBeLessThanOrEqual(31);
  });
});
