// The queue window (src/lock/queue-window.ts): its pure rules, and the lock reading the
// queue within it over the recording in-memory store (the same code runs against real etcd
// in test/integration/lock/etcd-lock.test.ts).
import { describe, expect, test } from 'vitest';
import { MemoryLockStore } from './memory-lock-store.js';
import { SemaphoreLock } from '../../../src/lock/semaphore-lock.js';
import { formatQueueWindow, parseQueueWindow, placeEstimate, queueKeyMs, queueWindowKey, windowAfterSwap, windowOver, windowWorn } from '../../../src/lock/queue-window.js';
import { queueIdOf, queueKey, queuePrefix } from '../../../src/lock/wait-queue.js';
import { releasedKey, releasedPrefix } from '../../../src/lock/release-marks.js';

const g = 'default';
const k = (ms: number, id = 'n') => queueKey(g, ms, id);
const settle = () => new Promise((r) => setTimeout(r, 5));
const make = () => {
  const store = new MemoryLockStore();
  return { store, lock: new SemaphoreLock({ store, group: g, random: () => 0, safetyWakeMs: 50 }) };
};

describe('queue window rules', () => {
  test('the record is read back only when both ends are this group\'s queue keys in order', () => {
    const w = { from: k(1), to: k(9) };
    expect(parseQueueWindow(g, formatQueueWindow(w))).toEqual(w);
    expect(parseQueueWindow(g, formatQueueWindow({ from: k(1) }))).toEqual({ from: k(1) });
    expect(parseQueueWindow(g, '{"marksFrom":5}')).toEqual({ marksFrom: 5 });
    for (const bad of [undefined, '', 'nope', 'null', '[]', '{"from":3}', '{"marksFrom":-1}', '{"marksFrom":"5"}', JSON.stringify({ to: k(1) }), JSON.stringify({ from: 'elsewhere/x' }), JSON.stringify({ from: k(9), to: k(1) }), JSON.stringify({ from: k(1), to: 'x' })]) {
      expect(parseQueueWindow(g, bad)).toBeUndefined();
    }
    expect(parseQueueWindow('other', formatQueueWindow(w))).toBeUndefined();
    expect(queueWindowKey(g).startsWith(queuePrefix(g))).toBe(false); // outside the queue's range
  });

  test('a window ends at the last key read, unless fewer than a look reads are left; an empty queue keeps the start', () => {
    const keys = Array.from({ length: 8 }, (_, i) => k(i + 10));
    expect(windowOver(g, keys, undefined, 4)).toEqual({ from: k(10), to: k(17), pace: 1 }); // 7 keys after the first over 7 ms
    expect(windowOver(g, keys.slice(0, 3), undefined, 4)).toEqual({ from: k(10) });
    expect(windowOver(g, [], { from: k(5), to: k(7) }, 4)).toEqual({ from: k(5) });
    expect(windowOver(g, [], undefined, 4)).toBeUndefined();
  });

  test("a new key's place in line is estimated from the window's start and pace, never from a record without them", () => {
    const w = { from: k(1000), to: k(1400), pace: 0.2 }; // 80 keys over 400 ms
    expect(placeEstimate(g, w, k(1500, 'new'))).toBe(100);
    expect(placeEstimate(g, w, k(1000, 'same-ms'))).toBe(0);
    expect(placeEstimate(g, w, k(999))).toBeUndefined(); // before the start: counted
    expect(placeEstimate(g, { from: k(1000) }, k(1500))).toBeUndefined();
    expect(placeEstimate(g, undefined, k(1500))).toBeUndefined();
    expect(parseQueueWindow(g, formatQueueWindow(w))).toEqual(w);
    for (const pace of [0, -1, '0.2', null, Number.MAX_VALUE * 10]) expect(parseQueueWindow(g, JSON.stringify({ from: k(1), pace }))).toBeUndefined();
    // A swap moves the start and keeps the pace.
    expect(windowAfterSwap(w, k(1100), undefined, 0)).toEqual({ from: k(1100), to: k(1400), pace: 0.2 });
  });

  test('a node joining a full group whose window has a pace estimates its place: no count', async () => {
    const { store, lock } = make();
    await lock.acquire('holder');
    await store.put(queueWindowKey(g), formatQueueWindow({ from: k(1000, 'x'), to: k(1400, 'y'), pace: 0.2 }));
    const waiter = new SemaphoreLock({ store, group: g, random: () => 0 });
    const before = store.requestCounts.queue;
    const waiting = waiter.acquire('late', { queuedSince: 2000 });
    await settle();
    expect(store.requestCounts.queue - before).toBe(1); // its queue key's put alone
    await lock.release('holder');
    await waiting;
    expect((await lock.status()).holders.map((h) => h.id)).toEqual(['late']);
  });

  test('worn: an end with fewer than a look left before it, a look without an end that came back full', () => {
    expect(windowWorn({ from: k(1), to: k(9) }, { from: k(1), to: k(9) }, 3, 4)).toBe(true);
    expect(windowWorn({ from: k(1), to: k(9) }, { from: k(1), to: k(9) }, 4, 4)).toBe(false);
    expect(windowWorn({ from: k(1) }, { from: k(1) }, 4, 4)).toBe(true);
    expect(windowWorn({ from: k(1) }, { from: k(1) }, 3, 4)).toBe(false);
    expect(windowWorn(undefined, undefined, 4, 4)).toBe(true);
    expect(windowWorn(undefined, undefined, 3, 4)).toBe(false);
    expect(windowWorn(undefined, { from: k(1), to: k(2) }, 0, 4)).toBe(true); // read whole because the end was passed
  });

  test('a swap moves the start to its last grant and the marks to a little before its newest fold, forward only, keeping an end still ahead', () => {
    expect(windowAfterSwap(undefined, k(5), undefined, 2000)).toEqual({ from: k(5) });
    expect(windowAfterSwap({ from: k(1), to: k(9) }, k(5), undefined, 2000)).toEqual({ from: k(5), to: k(9) });
    expect(windowAfterSwap({ from: k(1), to: k(4) }, k(5), undefined, 2000)).toEqual({ from: k(5) });
    expect(windowAfterSwap({ from: k(6) }, k(5), undefined, 2000)).toBeUndefined();
    expect(windowAfterSwap(undefined, undefined, 10_000, 2000)).toEqual({ marksFrom: 8000 });
    expect(windowAfterSwap({ from: k(1), marksFrom: 9000 }, undefined, 10_000, 2000)).toBeUndefined();
    expect(windowAfterSwap({ from: k(1), marksFrom: 7000 }, k(2), 10_000, 2000)).toEqual({ from: k(2), marksFrom: 8000 });
    expect(queueKeyMs(g, k(0x1234))).toBe(0x1234);
    expect(queueKeyMs(g, `${queuePrefix(g)}xyz`)).toBeUndefined();
  });
});

describe('the lock within the window', () => {
  /** `waiters` queued behind a holder, at 1 ms apart, in order. */
  const queued = async (waiters: number) => {
    const { store, lock } = make();
    await lock.acquire('holder');
    const got: string[] = [];
    const name = (i: number) => `w${String(i).padStart(3, '0')}`;
    const pending = Array.from({ length: waiters }, (_, i) => lock.acquire(name(i), { queuedSince: 1000 + i }).then(() => got.push(name(i))));
    await settle();
    return { store, lock, got, name, pending };
  };

  test('releases read only the window; the window moves with the grants and its end is set again when worn', async () => {
    const { store, lock, got, name, pending } = await queued(150);
    const window = async () => parseQueueWindow(g, (await store.get(queueWindowKey(g))).value);
    await lock.release('holder');
    while (got.length < 1) await settle();
    // The first release read the whole queue (no window yet), then set the window over the
    // keys from the head (w000's key, granted, is there until w000 confirms).
    expect([k(1000, name(0)), k(1001, name(1))]).toContain((await window())!.from);
    expect((await window())!.to).toBe(k(1149, name(149)));
    for (let i = 0; i < 100; i++) {
      await lock.release(name(i));
      while (got.length < i + 2) await settle();
    }
    expect(got.slice(0, 101)).toEqual(Array.from({ length: 101 }, (_, i) => name(i)));
    const marked = store.looks.filter((l) => l.mark).slice(1);
    // Every release after the first wrote its mark in a transaction that read within the
    // window: from the last key granted, to w149 until fewer keys than a look reads were
    // left before it, then to the queue's end (an open window over fewer than 64 keys).
    expect(marked.every((l, i) => l.from !== undefined && l.from >= k(1000, name(0)) && (i < 80 ? l.to === k(1149, name(149)) : true))).toBe(true);
    expect(marked.at(-1)).toMatchObject({ from: k(1099, name(99)), mark: true }); // w099 releasing: the window starts at its own grant
    expect(marked.at(-1)!.to).toBeUndefined();
    // Marks are read from a little before the newest folded in, not from the first ever written.
    expect(marked.at(-1)!.marksFrom! > `${releasedPrefix(g)}0`).toBe(true);
    // The start follows the grants; 49 keys are left before the end, so it is open again.
    expect(await window()).toMatchObject({ from: k(1100, name(100)) });
    expect((await window())!.to).toBeUndefined();
    for (let i = 100; i < 150; i++) await lock.release(name(i));
    await Promise.all(pending);
  });

  test('a window whose end the head has passed comes up short: the release reads the whole queue and hands the slot on', async () => {
    const { store, lock, got, name, pending } = await queued(3);
    // A stale record (an old end, as after a window moved by a node with an old view).
    await store.put(queueWindowKey(g), formatQueueWindow({ from: k(1, 'gone'), to: k(2, 'gone') }));
    const fresh = new SemaphoreLock({ store, group: g, random: () => 0 });
    await fresh.release('holder');
    while (got.length < 1) await settle();
    expect(got).toEqual([name(0)]);
    expect(store.looks.filter((l) => l.mark).at(-1)).toEqual({ from: k(1, 'gone'), to: k(2, 'gone'), mark: true });
    for (let i = 0; i < 3; i++) await lock.release(name(i));
    await Promise.all(pending);
  });

  test('a node asking again with a time below the window moves just above its start, and is served', async () => {
    const { store, lock, got, name, pending } = await queued(5);
    await lock.release('holder');
    await lock.release(name(0));
    while (got.length < 2) await settle();
    const start = parseQueueWindow(g, (await store.get(queueWindowKey(g))).value)!.from!;
    // 'late' first asked at time 1 (an agent asking again after etcd was away): below the
    // window, which its new lock learns only as it joins.
    const late = new SemaphoreLock({ store, group: g, random: () => 0 }).acquire('late', { queuedSince: 1 }).then(() => got.push('late'));
    await settle();
    const lateKey = store.queueOf(queuePrefix(g)).find((key) => queueIdOf(g, key) === 'late')!;
    expect(lateKey > start).toBe(true);
    expect(queueKeyMs(g, lateKey)).toBe(queueKeyMs(g, start)! + 1);
    // Each holder in turn gives its slot back: 'late' comes right after w001, before w002.
    while (got.length < 6) {
      const served = got.length;
      await lock.release(got.at(-1)!);
      while (got.length === served) await settle();
    }
    expect(got).toEqual([name(0), name(1), 'late', name(2), name(3), name(4)]);
    await lock.release(got.at(-1)!);
    await Promise.all([...pending, late]);
  });

  test('a mark older than the marks looks read (a clock behind) is folded in by its own release, and a non-holder\'s is removed', async () => {
    const { store, lock } = make();
    await lock.acquire('a');
    // Marks are read from a minute ahead of this clock: no look sees the marks written here.
    await store.put(queueWindowKey(g), formatQueueWindow({ marksFrom: Date.now() + 60_000 }));
    await lock.release('a');
    await lock.release('never-held');
    expect((await lock.status()).holders).toEqual([]);
    expect(await store.list(releasedPrefix(g))).toEqual(new Map());
    expect(store.looks.filter((l) => l.mark).every((l) => l.marksFrom !== undefined)).toBe(true);
  });

  test("a release interrupted after its time-named mark is finished when the holder asks again; marks from before its take are not read", async () => {
    const { store, lock } = make();
    await lock.acquire('a');
    const listed: (string | undefined)[] = [];
    const list = store.list.bind(store);
    store.list = async (prefix, signal, from) => (listed.push(from), list(prefix, signal, from));
    await store.put(releasedKey(g, 'a', Date.now()), new Date().toISOString()); // the mark, then the release stopped
    await lock.acquire('a', { wait: false });
    expect((await lock.status()).holders.map((h) => h.id)).toEqual(['a']);
    expect(await store.list(releasedPrefix(g))).toEqual(new Map());
    // Listed from a minute before 'a' took its slot, not from the first mark the group ever had.
    expect(listed[0]! > `${releasedPrefix(g)}0`).toBe(true);
    expect(listed[0]! <= releasedKey(g, 'a', Date.now() - 59_000)).toBe(true);
  });

  test('a record that is not a window (hostile or foreign) is ignored: looks read the whole queue', async () => {
    const { store, lock, got, name, pending } = await queued(2);
    await store.put(queueWindowKey(g), '{"from":"com.coreos.airlock/groups/other/v1/keel-queue/x","to":"zzz"}');
    const fresh = new SemaphoreLock({ store, group: g, random: () => 0 });
    await fresh.release('holder');
    while (got.length < 1) await settle();
    expect(got).toEqual([name(0)]);
    expect(store.looks.filter((l) => l.mark).at(-1)).toEqual({ mark: true });
    for (let i = 0; i < 2; i++) await lock.release(name(i));
    await Promise.all(pending);
  });
});
