// Small pure pieces: group keys, durations, backoff, maximum hold time.
import { describe, expect, test } from 'vitest';
import { checkGroup, holderIdOf, holderKey, semaphoreKey } from '../../../src/lock/group-keys.js';
import { formatDurationMs, parseDurationMs } from '../../../src/lock/duration.js';
import { backoffDelayMs } from '../../../src/lock/backoff.js';
import { expiredHolders } from '../../../src/lock/max-hold.js';

describe('group keys', () => {
  test('airlock semaphore key and keel sibling keys', () => {
    expect(semaphoreKey('workers')).toBe('com.coreos.airlock/groups/workers/v1/semaphore');
    expect(holderKey('workers', 'a/b')).toBe('com.coreos.airlock/groups/workers/v1/keel-holders/a%2Fb');
    expect(holderIdOf('workers', holderKey('workers', 'a/b'))).toBe('a/b');
  });
  test.each(['', 'a b', 'a/b', 'ü', 'x_y'])('refuses group %j', (g) => expect(() => checkGroup(g)).toThrow(/group: expected/));
  test.each(['default', 'web-1.eu', 'A0'])('accepts group %j', (g) => expect(checkGroup(g)).toBe(g));
});

describe('durations', () => {
  test.each([['90s', 90_000], ['1h30m', 5_400_000], ['250ms', 250], ['2', 2000], ['1.5s', 1500], ['2d', 172_800_000]])('%s', (t, ms) => expect(parseDurationMs(t)).toBe(ms));
  test.each(['', 'soon', '5 m', '1x', 'm5'])('refuses %j', (t) => expect(() => parseDurationMs(t, 'timeout')).toThrow(/timeout: expected a duration/));
  test.each([[850, '850ms'], [12_000, '12s'], [192_000, '3m12s'], [7_500_000, '2h05m'], [3 * 86_400_000, '3d00h']])('formats %d', (ms, t) => expect(formatDurationMs(ms)).toBe(t));
});

describe('backoff', () => {
  test('grows, caps, and jitters within [ceiling/2, ceiling]', () => {
    expect(backoffDelayMs(0, () => 0)).toBe(13);
    expect(backoffDelayMs(0, () => 1)).toBe(25);
    expect(backoffDelayMs(3, () => 1)).toBe(200);
    expect(backoffDelayMs(30, () => 1)).toBe(1000);
    expect(backoffDelayMs(30, () => 0)).toBe(500);
  });
});

describe('maximum hold time', () => {
  const now = Date.parse('2024-05-01T12:00:00Z');
  const holders = [{ id: 'old', since: '2024-05-01T09:00:00Z' }, { id: 'new', since: '2024-05-01T11:30:00Z' }, { id: 'airlock' }];
  test('off by default', () => expect(expiredHolders(holders, now, undefined)).toEqual([]));
  test('expires only recorded holders past the limit', () => expect(expiredHolders(holders, now, 2 * 3_600_000)).toEqual(['old']));
});
