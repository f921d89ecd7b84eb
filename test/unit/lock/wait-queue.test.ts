import { describe, expect, test } from 'vitest';
import { deadGrants, grantedValue, grantsFor, holderValue, lookAgainMs, parseHolderValue, queueIdOf, queueKey } from '../../../src/lock/wait-queue.js';

const g = 'default';
const entry = (revision: number, id: string, value = id) => ({ key: queueKey(g, revision, id), value, modRevision: revision });

describe('wait queue', () => {
  test('queue keys sort by the revision read, then id, and give their id back', () => {
    const keys = [queueKey(g, 0x100, 'b'), queueKey(g, 0xff, 'z'), queueKey(g, 0x100, 'a')].sort();
    expect(keys.map((k) => queueIdOf(g, k))).toEqual(['z', 'a', 'b']);
    expect(queueIdOf(g, queueKey(g, 7, 'node/with spaces%'))).toBe('node/with spaces%');
    expect(queueIdOf(g, 'com.coreos.airlock/groups/default/v1/keel-queue/xyz')).toBeUndefined();
    expect(queueIdOf(g, `${queueKey(g, 1, 'a').slice(0, -1)}%E0%A4%A`)).toBeUndefined();
  });

  test('grants go to waiting entries in order, skipping granted ones, holders (stale) and repeats', () => {
    const queue = [entry(1, 'x', grantedValue('t')), entry(2, 'h'), entry(3, 'a'), entry(4, 'a'), entry(5, 'b'), entry(6, 'c')];
    const { grants, stale } = grantsFor(g, { totalSlots: 4, holders: ['h', 'x'] }, queue);
    expect(grants.map((x) => x.id)).toEqual(['a', 'b']);
    expect(stale.map((e) => queueIdOf(g, e.key))).toEqual(['h', 'a']); // the second 'a' goes with the first's grant
    expect(grantsFor(g, { totalSlots: 1, holders: ['h'] }, queue).grants).toEqual([]);
  });

  test('holder values: confirmed time, or pending with its queue key', () => {
    expect(parseHolderValue(holderValue('2024-05-01T00:00:00.000Z'))).toEqual({ since: '2024-05-01T00:00:00.000Z' });
    expect(parseHolderValue(holderValue('2024-05-01T00:00:00.000Z', 'q/k'))).toEqual({ since: '2024-05-01T00:00:00.000Z', pendingQueueKey: 'q/k' });
    expect(parseHolderValue('garbage')).toEqual({});
  });

  test('a grant is dead when its pending queue key is gone, alive while it exists or once confirmed', () => {
    const hk = (id: string) => `com.coreos.airlock/groups/default/v1/keel-holders/${id}`;
    const keys = new Map([
      [hk('dead'), { value: holderValue('t', 'q/dead'), modRevision: 5 }],
      [hk('alive'), { value: holderValue('t', 'q/alive'), modRevision: 6 }],
      ['q/alive', { value: grantedValue('t'), modRevision: 6 }],
      [hk('done'), { value: holderValue('t'), modRevision: 7 }],
    ]);
    expect(deadGrants(g, ['dead', 'alive', 'done', 'airlock'], keys)).toEqual([{ id: 'dead', holderKey: hk('dead'), modRevision: 5 }]);
  });

  test('deep waiters look again less often, up to 30 times the base', () => {
    expect(lookAgainMs(1000, 0, 10)).toBe(1000);
    expect(lookAgainMs(1000, 25, 10)).toBe(3000);
    expect(lookAgainMs(1000, 10_000, 10)).toBe(30_000);
    expect(lookAgainMs(1000, 5, 0)).toBe(6000);
  });
});
