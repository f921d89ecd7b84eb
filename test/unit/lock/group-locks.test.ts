// The FleetLock server's bounded map of lock objects: at most `limit` groups in use,
// idle ones dropped, busy ones never.
import { describe, expect, test } from 'vitest';
import { GroupLocks } from '../../../src/lock/group-locks.js';

describe('GroupLocks', () => {
  const make = (limit: number) => {
    let now = 0;
    const created: string[] = [];
    const locks = new GroupLocks({ limit, idleMs: 100, now: () => now, create: (g) => (created.push(g), { group: g }) });
    return { locks, created, advance: (ms: number) => (now += ms) };
  };

  test('one object per group, reused while in use', () => {
    const { locks, created } = make(3);
    const a1 = locks.use('a')!;
    const a2 = locks.use('a')!;
    expect(a1.value).toBe(a2.value);
    expect(created).toEqual(['a']);
  });

  test('a new group beyond the limit is refused until an idle one is dropped', () => {
    const { locks, advance } = make(2);
    locks.use('a')!.done();
    locks.use('b')!.done();
    expect(locks.use('c')).toBeUndefined();
    advance(100);
    expect(locks.use('c')).toBeDefined();
    expect(locks.size).toBe(1);
  });

  test('a busy group is never dropped, however long its request takes', () => {
    const { locks, advance } = make(1);
    const a = locks.use('a')!;
    advance(1000);
    expect(locks.use('b')).toBeUndefined();
    a.done();
    a.done(); // twice is harmless
    advance(100);
    expect(locks.use('b')).toBeDefined();
  });

  test('10,000 made-up groups keep at most `limit` objects', () => {
    const { locks, advance } = make(50);
    let refused = 0;
    for (let i = 0; i < 10_000; i++) {
      const lease = locks.use(`g${i}`);
      if (lease) lease.done();
      else refused++;
      advance(1);
      expect(locks.size).toBeLessThanOrEqual(50);
    }
    expect(refused).toBeGreaterThan(0);
  });
});
