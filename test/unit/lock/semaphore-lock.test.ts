// SemaphoreLock over the recording in-memory store (the same code runs against real etcd
// in test/integration/lock/etcd-lock.test.ts).
import { describe, expect, test, vi } from 'vitest';
import { MemoryLockStore } from './memory-lock-store.js';
import { SemaphoreLock } from '../../../src/lock/semaphore-lock.js';
import { KeelError } from '../../../src/errors.js';
import type { Rider } from '../../../src/lock/reboot-lock.js';
import { parseHolderValue, queueKey } from '../../../src/lock/wait-queue.js';
import { formatQueueWindow, queueWindowKey } from '../../../src/lock/queue-window.js';

const key = 'com.coreos.airlock/groups/default/v1/semaphore';
const make = (extra: Partial<ConstructorParameters<typeof SemaphoreLock>[0]> = {}) => {
  const store = new MemoryLockStore();
  const lock = new SemaphoreLock({ store, group: 'default', random: () => 0, ...extra });
  return { store, lock };
};

describe('semaphore lock', () => {
  test('first take creates the key at version 0 in airlock layout, with a hold-time sibling', async () => {
    const { store, lock } = make({ now: () => Date.parse('2024-05-01T12:00:00Z') });
    await lock.acquire('a');
    expect(store.commits[0]).toMatchObject({ key, expectedVersion: 0, value: '{"total_slots":1,"holders":["a"]}', puts: { 'com.coreos.airlock/groups/default/v1/keel-holders/a': '2024-05-01T12:00:00.000Z' } });
    expect(await lock.status()).toEqual({ group: 'default', totalSlots: 1, holders: [{ id: 'a', since: '2024-05-01T12:00:00.000Z' }] });
  });

  test('recursive take and release of a non-holder write nothing', async () => {
    const { store, lock } = make();
    await lock.acquire('a');
    await lock.acquire('a');
    await lock.release('b');
    expect(store.commits).toHaveLength(1);
  });

  test('nodes joining at once while slots are free: the take that wins hands the others their slots in its swap, and they confirm from what their lost swaps read, without waiting on a watch', async () => {
    const { store } = make();
    await store.put(key, '{"total_slots":3,"holders":[]}');
    const ids = ['a', 'b', 'c'];
    const locks = ids.map(() => new SemaphoreLock({ store, group: 'default', random: () => 0 }));
    await Promise.all(locks.map((lock, i) => lock.acquire(ids[i]!, { queuedSince: 1000 + i })));
    expect((await locks[0]!.status()).holders.map((h) => h.id)).toEqual(ids);
    expect(store.requestCounts.watch).toBe(0);
    const swaps = store.commits.filter((c) => c.key === key);
    expect(swaps).toHaveLength(1); // a's take, with b's and c's grants
    expect(Object.keys(swaps[0]!.rewrites ?? {})).toHaveLength(2);
    expect(store.queueOf('com.coreos.airlock/groups/default/v1/keel-queue/')).toEqual([]);
  });

  test('a take whose swap stops to read the whole queue (its window came up short) takes its slot from that read, confirmed', async () => {
    const { store, lock } = make();
    const queue = 'com.coreos.airlock/groups/default/v1/keel-queue/';
    await store.put(key, '{"total_slots":3,"holders":[]}');
    // The window ends at a's own key; b waits past it.
    const a = queueKey('default', 1000, 'a');
    await store.put(queueWindowKey('default'), formatQueueWindow({ from: a, to: a }));
    await store.put(queueKey('default', 2000, 'b'), 'b');
    await lock.acquire('a', { queuedSince: 1000 });
    expect((await lock.status()).holders.map((h) => h.id)).toEqual(['a', 'b']);
    const held = await store.readKeys(['com.coreos.airlock/groups/default/v1/keel-holders/a']);
    expect(parseHolderValue([...held.values()][0]!.value).pendingQueueKey).toBeUndefined(); // a's own take, not a grant left pending
    expect(store.queueOf(queue)).toEqual([queueKey('default', 2000, 'b')]); // b's, granted, for b to confirm
  });

  test('full without wait is a conflict naming the holders', async () => {
    const { lock } = make();
    await lock.acquire('a');
    const error = await lock.acquire('b', { wait: false }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeelError);
    expect((error as KeelError).kind).toBe('conflict');
    expect((error as KeelError).message).toMatch(/held by a/);
  });

  test('a waiter takes the slot when the holder releases, without polling reads', async () => {
    const { store, lock } = make();
    await lock.acquire('a');
    const waiting = lock.acquire('b');
    await new Promise((r) => setTimeout(r, 20));
    const readsWhileWaiting = store.requestCounts.get;
    await lock.release('a');
    await waiting;
    expect((await lock.status()).holders.map((h) => h.id)).toEqual(['b']);
    // the release's two reads (the queue window's record, its look with the mark); the waiter saw the release in its watch event and committed directly
    expect(store.requestCounts.get - readsWhileWaiting).toBeLessThanOrEqual(3);
  });

  test('an abort stops the wait with unavailable', async () => {
    const { lock } = make();
    await lock.acquire('a');
    const error = await lock.acquire('b', { signal: AbortSignal.timeout(30) }).catch((e: unknown) => e);
    expect((error as KeelError).kind).toBe('unavailable');
    expect((error as KeelError).message).toMatch(/timed out while waiting \(held by a\)/);
  });

  test('a wait that ends while etcd does not answer says so, not only that it timed out', async () => {
    const { store, lock } = make();
    await lock.acquire('a');
    store.failNext = 1000;
    const error = await lock.acquire('b', { signal: AbortSignal.timeout(100) }).catch((e: unknown) => e);
    expect((error as KeelError).message).toMatch(/timed out while waiting; the last try: injected: etcd did not answer/);
  });

  test('errors are retried with backoff', async () => {
    const { store, lock } = make();
    store.failNext = 3;
    await lock.acquire('a');
    expect((await lock.status()).holders).toHaveLength(1);
  });

  test('a lost race re-reads and succeeds', async () => {
    const { store, lock } = make({ defaultSlots: 2 });
    await store.put(key, '{"total_slots":2,"holders":["x"]}');
    const commit = store.commit.bind(store);
    let first = true;
    store.commit = async (c) => {
      if (first) {
        first = false;
        await store.put(key, '{"total_slots":2,"holders":["x"]}'); // someone else bumps the version
      }
      return commit(c);
    };
    await lock.acquire('a');
    expect((await lock.status()).holders.map((h) => h.id)).toEqual(['a', 'x']);
  });

  test("a release whose swap is lost to another node's release that read its mark is done: no other read or swap", async () => {
    const { store, lock } = make({ defaultSlots: 3 });
    await lock.acquire('a');
    await lock.acquire('b');
    const swap = store.swap.bind(store);
    const swaps: string[] = [];
    store.swap = async (c, keys) => {
      if (swaps.length === 0) {
        swaps.push('a');
        await lock.release('b'); // b's view holds a's mark: b's swap folds both releases in
      } else swaps.push('b');
      return swap(c, keys);
    };
    const reads = store.requestCounts.get;
    await lock.release('a');
    expect(swaps).toEqual(['a', 'b']);
    expect(store.requestCounts.get - reads).toBe(4); // each release: the queue window's record, then its view with its mark
    expect(store.commits.at(-1)!.value).toBe('{"total_slots":3,"holders":[]}');
    expect((await lock.status()).holders).toEqual([]);
    expect(await store.list('com.coreos.airlock/groups/default/v1/keel-released/')).toEqual(new Map());
    expect(await store.list('com.coreos.airlock/groups/default/v1/keel-holders/')).toEqual(new Map());
  });

  test('a release whose swap is lost to a change that did not read its mark swaps again from the view the lost swap read', async () => {
    const { store, lock } = make({ defaultSlots: 3 });
    await lock.acquire('a');
    const swap = store.swap.bind(store);
    let first = true;
    store.swap = async (c, keys) => {
      if (first) {
        first = false;
        await store.put(key, '{"total_slots":3,"holders":["a","x"]}'); // an airlock node takes a slot
      }
      return swap(c, keys);
    };
    const reads = store.requestCounts.get;
    await lock.release('a');
    expect(store.requestCounts.get - reads).toBe(2); // the queue window's record, the view with the mark: none after the lost swap
    expect((await lock.status()).holders.map((h) => h.id)).toEqual(['x']);
  });

  test('a release of a non-holder leaves no mark behind, so a later take is not folded away', async () => {
    const { store, lock } = make({ defaultSlots: 2 });
    await lock.release('a');
    expect(await store.list('com.coreos.airlock/groups/default/v1/keel-released/')).toEqual(new Map());
    await lock.acquire('a');
    await lock.acquire('b');
    expect((await lock.status()).holders.map((h) => h.id)).toEqual(['a', 'b']);
  });

  test('a release interrupted after its mark is finished when the holder asks again, and the holder then takes a slot afresh', async () => {
    const { store, lock } = make();
    await lock.acquire('a');
    await store.put('com.coreos.airlock/groups/default/v1/keel-released/a', '2024-05-01T00:00:00.000Z'); // the mark, then the release stopped
    await lock.acquire('a', { wait: false });
    expect((await lock.status()).holders.map((h) => h.id)).toEqual(['a']);
    expect(await store.list('com.coreos.airlock/groups/default/v1/keel-released/')).toEqual(new Map());
    // The slot was given back and taken again (two commits after the first take), not kept under a pending mark.
    expect(store.commits).toHaveLength(3);
  });

  test('set-max keeps holders and lets waiters in', async () => {
    const { lock } = make();
    await lock.acquire('a');
    const waiting = lock.acquire('b');
    await lock.setMax(2);
    await waiting;
    expect(await lock.status()).toMatchObject({ totalSlots: 2, holders: [{ id: 'a' }, { id: 'b' }] });
  });

  test('maximum hold time releases an expired recorded holder, never an airlock one', async () => {
    let now = Date.parse('2024-05-01T00:00:00Z');
    const { store, lock } = make({ maxHoldMs: 3_600_000, now: () => now });
    await lock.acquire('a');
    now += 2 * 3_600_000;
    await lock.acquire('b', { wait: false });
    expect((await lock.status()).holders.map((h) => h.id)).toEqual(['b']);
    await store.put(key, '{"total_slots":1,"holders":["fcos-node"]}');
    const error = await lock.acquire('c', { wait: false }).catch((e: unknown) => e);
    expect((error as KeelError).kind).toBe('conflict');
  });

  test('refuses to overwrite a value it does not understand', async () => {
    const { store, lock } = make();
    await store.put(key, '{"semaphore":1,"max":1,"holders":[]}');
    await expect(lock.acquire('a')).rejects.toThrow(/refusing to change it/);
  });
});

describe('wait queue', () => {
  const roll = async (waiters: number) => {
    const store = new MemoryLockStore();
    // A clock that moves with every reading: arrivals one timer tick apart are distinct in time.
    let clock = Date.now();
    const lock = () => new SemaphoreLock({ store, group: 'q', random: () => 0, now: () => ++clock });
    await lock().setMax(3);
    let holding = 0;
    let max = 0;
    const order: number[] = [];
    const before = Object.values(store.requestCounts).reduce((a, b) => a + b, 0);
    await Promise.all(
      Array.from({ length: waiters }, async (_, i) => {
        await new Promise((r) => setTimeout(r, i)); // arrive in order
        const l = lock();
        await l.acquire(`n${i}`);
        holding++;
        max = Math.max(max, holding);
        order.push(i);
        await new Promise((r) => setTimeout(r, 5));
        holding--;
        await l.release(`n${i}`);
      }),
    );
    const perAcquisition = (Object.values(store.requestCounts).reduce((a, b) => a + b, 0) - before) / waiters;
    return { store, max, order, perAcquisition, status: await lock().status() };
  };

  test('30 waiters on 3 slots: all get through in about queue order, never more than 3 holders, nothing left queued', async () => {
    const r = await roll(30);
    expect(r.max).toBe(3);
    expect(r.order).toHaveLength(30);
    // queue order up to the slot count: nobody overtakes by more than the 3 heads
    r.order.forEach((id, position) => expect(Math.abs(id - position)).toBeLessThanOrEqual(3));
    expect(r.status.holders).toEqual([]);
    expect(r.store.queueOf('com.coreos.airlock/groups/q/v1/keel-queue/')).toEqual([]);
  });

  test('requests per acquisition grow with the slots, not with the waiters (no thundering herd)', async () => {
    const few = await roll(15);
    const many = await roll(60);
    expect(many.perAcquisition / few.perAcquisition).toBeLessThan(1.5);
  });

  test('an aborted waiter leaves the queue', async () => {
    const store = new MemoryLockStore();
    const l = new SemaphoreLock({ store, group: 'q' });
    await l.acquire('a');
    await expect(l.acquire('b', { signal: AbortSignal.timeout(20) })).rejects.toMatchObject({ kind: 'unavailable' });
    expect(store.queueOf('com.coreos.airlock/groups/q/v1/keel-queue/')).toEqual([]);
  });
});

describe('hand-off', () => {
  const queue = 'com.coreos.airlock/groups/default/v1/keel-queue/';
  const total = (store: MemoryLockStore) => Object.values(store.requestCounts).reduce((a, b) => a + b, 0);
  const settle = () => new Promise((r) => setTimeout(r, 20));

  test('a release hands the slot to the head of the queue: a constant number of requests however long the queue', async () => {
    const name = (i: number) => `w${String(i).padStart(3, '0')}`;
    /** The requests of two releases in a row, each until its slot's new holder has it. */
    const cost = async (waiters: number) => {
      const { store, lock } = make();
      await lock.acquire('holder');
      const got: string[] = [];
      const pending = Array.from({ length: waiters }, (_, i) => lock.acquire(name(i)).then(() => got.push(name(i))));
      await settle();
      const spent: number[] = [];
      for (const [holder, next] of [['holder', 0], [name(0), 1]] as const) {
        const before = total(store);
        await lock.release(holder);
        while (got.length <= next) await settle();
        spent.push(total(store) - before);
        expect(got[next]).toBe(name(next));
        expect((await lock.status()).holders.map((h) => h.id)).toEqual([name(next)]);
      }
      for (let i = 1; i < waiters; i++) await lock.release(name(i));
      await Promise.all(pending);
      expect(store.queueOf(queue)).toEqual([]);
      return spent;
    };
    const few = await cost(3);
    const many = await cost(100); // more than one look reads of the queue (64)
    // release: a read and a commit; the head: its watch and one confirm
    expect(few[0]).toBeLessThanOrEqual(4);
    expect(few[1]).toBe(few[0]);
    // A queue longer than a look reads gets its window's end once (a read of its keys, a
    // write of the window's record: queue-window.ts), then every release costs the same.
    expect(many).toEqual([few[0]! + 2, few[0]]);
  });

  test("the caller's first step runs beside the confirmation of a hand-off, after the transaction of a direct take", async () => {
    const { store, lock } = make();
    const events: string[] = [];
    const confirm = store.confirm.bind(store);
    store.confirm = async (...args) => {
      events.push('confirm sent');
      await settle();
      const confirmed = await confirm(...args);
      events.push('confirmed');
      return confirmed;
    };
    await lock.acquire('a', { whenGranted: async () => void events.push(`a granted after ${store.requestCounts.commit} commit`) });
    expect(events).toEqual(['a granted after 1 commit']);
    const step = async (id: string) => {
      events.push(`${id} starts`);
      await settle();
      events.push(`${id} started`);
    };
    const waiting = lock.acquire('b', { whenGranted: () => step('b') }).then(() => events.push('b acquired'));
    await settle();
    await lock.release('a');
    await waiting;
    // Sent before the step ended (beside it, not after), and acquire waited for both.
    expect(events.slice(1, 3)).toEqual(['b starts', 'confirm sent']);
    expect(events.indexOf('b started')).toBeGreaterThan(events.indexOf('confirm sent'));
    expect(events.at(-1)).toBe('b acquired');
    expect(events.filter((e) => e === 'b starts')).toHaveLength(1);
  });

  test("a rider's writes go in the confirmation of a slot handed over when its absent keys are absent; the first step runs after it, told whether they did", async () => {
    const rider = { absent: ['rollout', 'started/b'], puts: { 'started/b': 'now' } };
    const handOver = async (stored?: string) => {
      const { store, lock } = make({ defaultSlots: 1 });
      if (stored) await store.put('rollout', stored); // the rollout has a stored value (a failure, a halt)
      await lock.acquire('a');
      const told: string[] = [];
      const waiting = lock.acquire('b', { rider, whenGranted: async (rode) => void told.push(`rode ${rode} after ${store.requestCounts.commit} commits`) });
      await settle();
      const commits = store.requestCounts.commit;
      await lock.release('a');
      await waiting;
      return { store, lock, told, commits: store.requestCounts.commit - commits };
    };
    const made = await handOver();
    expect(made.told).toEqual(['rode true after 3 commits']); // a's take, a's release, b's confirmation with the rider
    expect(made.commits).toBe(2);
    expect((await made.store.readKeys(['started/b'])).get('started/b')?.value).toBe('now');
    const refused = await handOver('{"halted":{}}');
    expect(refused.told).toEqual(['rode false after 3 commits']);
    expect(await refused.store.readKeys(['started/b'])).toEqual(new Map());
    // A slot taken directly: nothing rides, and the first step is told so.
    const told: boolean[] = [];
    const { store, lock } = make({ defaultSlots: 1 });
    await lock.acquire('c', { rider: { absent: [], puts: { x: '1' } }, whenGranted: async (rode) => void told.push(rode) });
    expect(told).toEqual([false]);
    expect(await store.readKeys(['x'])).toEqual(new Map());
  });

  test("a release's riders go in its mark's request, each by its own condition, holder or not; rode only when given", async () => {
    const { store, lock } = make({ defaultSlots: 2 });
    await store.put('started/a', 'then');
    await lock.acquire('a');
    const before = { ...store.requestCounts };
    const riders: Rider[] = [{ absent: [], puts: { 'succeeded/a': 'now' } }, { absent: ['started/a'], puts: { 'started/a': 'now' } }];
    expect(await lock.release('a', { riders })).toEqual({ rode: true });
    // The queue window's record, the mark with the riders and the read, then the swap: no request of the riders' own.
    expect({ get: store.requestCounts.get - before.get, commit: store.requestCounts.commit - before.commit }).toEqual({ get: 2, commit: 1 });
    const written = await store.readKeys(['succeeded/a', 'started/a']);
    expect([written.get('succeeded/a')?.value, written.get('started/a')?.value]).toEqual(['now', 'then']);
    // A node that no longer holds a slot: its success is still written, its mark is not kept.
    expect(await lock.release('b', { riders: [{ absent: ['started/b'], puts: { 'succeeded/b': 'now', 'started/b': 'now' } }] })).toEqual({ rode: true });
    expect([...(await store.readKeys(['succeeded/b', 'started/b'])).keys()]).toEqual(['succeeded/b', 'started/b']);
    expect(store.queueOf('com.coreos.airlock/groups/default/v1/keel-released/')).toEqual([]);
    expect(await lock.release('a')).toEqual({ rode: false });
  });

  test("a failing first step fails acquire once the hand-off is confirmed: the slot is held, for the caller to give back", async () => {
    const { lock } = make();
    await lock.acquire('a');
    const waiting = lock.acquire('b', { whenGranted: async () => Promise.reject(new Error('rollout halted')) }).catch((e: Error) => e.message);
    await settle();
    await lock.release('a');
    expect(await waiting).toBe('rollout halted');
    expect((await lock.status()).holders.map((h) => h.id)).toEqual(['b']);
  });

  test('a grant to a node that died while queued is given back at the next look and goes to the next in line', async () => {
    const { store, lock } = make({ safetyWakeMs: 30 });
    await lock.acquire('a');
    const doomed = store.queueOf(queue);
    expect(doomed).toEqual([]);
    // "dead" joins the queue from another process that then dies: its key, but no waiter
    const deadKey = `${queue}0000000000000001/dead`;
    await store.put(deadKey, 'dead');
    const waiting = lock.acquire('b');
    await settle();
    await lock.release('a');
    expect((await lock.status()).holders.map((h) => h.id)).toEqual(['dead']);
    await store.expire(deadKey); // its lease runs out
    await waiting;
    expect((await lock.status()).holders.map((h) => h.id)).toEqual(['b']);
    expect(store.queueOf(queue)).toEqual([]);
  });

  test('a waiter whose queue key expired (a partition) queues again and still gets the slot', async () => {
    const { store, lock } = make();
    await lock.acquire('a');
    const waiting = lock.acquire('b');
    await settle();
    const [mine] = store.queueOf(queue);
    await store.expire(mine!);
    await settle();
    expect(store.queueOf(queue)).toHaveLength(1);
    await lock.release('a');
    await waiting;
    expect((await lock.status()).holders.map((h) => h.id)).toEqual(['b']);
  });

  test('an airlock node freeing a slot (no hand-off) is noticed at the next look', async () => {
    const { store, lock } = make({ safetyWakeMs: 30 });
    await store.put(key, '{"total_slots":1,"holders":["fcos-node"]}');
    const waiting = lock.acquire('b');
    await settle();
    await store.put(key, '{"total_slots":1,"holders":[]}');
    await waiting;
    expect((await lock.status()).holders.map((h) => h.id)).toEqual(['b']);
  });

  test('100 releases at once with 100 waiters: every swap within etcd\'s 128 operations a transaction, every waiter served', async () => {
    const { store, lock } = make({ defaultSlots: 100 });
    const ids = (p: string) => Array.from({ length: 100 }, (_, i) => `${p}${String(i).padStart(3, '0')}`);
    for (const id of ids('h')) await lock.acquire(id, { wait: false });
    const waiting = ids('w').map((id) => lock.acquire(id));
    await settle();
    await Promise.all(ids('h').map((id) => lock.release(id)));
    await Promise.all(waiting);
    expect((await lock.status()).holders.map((h) => h.id)).toEqual(ids('w'));
    expect(await store.list('com.coreos.airlock/groups/default/v1/keel-released/')).toEqual(new Map());
  });

  test('more slots hand on to as many waiters at once', async () => {
    const { lock } = make();
    await lock.acquire('a');
    const waiting = ['b', 'c', 'd'].map((id) => lock.acquire(id));
    await settle();
    await lock.setMax(4);
    await Promise.all(waiting);
    expect((await lock.status()).holders.map((h) => h.id)).toEqual(['a', 'b', 'c', 'd']);
  });
});
