// Small pure pieces: group keys, maximum hold time (durations and backoff: test/unit/duration.test.ts, backoff.test.ts).
import { describe, expect, test } from 'vitest';
import { checkGroup, holderIdOf, holderKey, semaphoreKey } from '../../../src/lock/group-keys.js';
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

describe('maximum hold time', () => {
  const now = Date.parse('2024-05-01T12:00:00Z');
  const holders = [{ id: 'old', since: '2024-05-01T09:00:00Z' }, { id: 'new', since: '2024-05-01T11:30:00Z' }, { id: 'airlock' }];
  test('off by default', () => expect(expiredHolders(holders, now, undefined)).toEqual([]));
  test('expires only recorded holders past the limit', () => expect(expiredHolders(holders, now, 2 * 3_600_000)).toEqual(['old']));
});
