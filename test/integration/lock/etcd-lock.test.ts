// The reboot lock against one real etcd member: airlock's layout on the wire, CAS creation,
// hold times, waiting, set-max, groups independent, TLS client certificates and user/password.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { rmSync } from 'node:fs';
import { Etcd3 } from 'etcd3';
import { startEtcd, type EtcdCluster } from '../../harness/etcd.js';
import { EtcdLockStore } from '../../../src/lock/etcd-store.js';
import { SemaphoreLock } from '../../../src/lock/semaphore-lock.js';
import type { Rider } from '../../../src/lock/reboot-lock.js';
import { KeelError } from '../../../src/errors.js';
import { makeTestCerts } from './test-certs.js';

describe('etcd lock, one member', () => {
  let etcd: EtcdCluster;
  const locks: SemaphoreLock[] = [];
  const open = (group = 'default', defaultSlots = 1) => {
    const lock = new SemaphoreLock({ store: new EtcdLockStore({ endpoints: etcd.endpoints }), group, defaultSlots });
    locks.push(lock);
    return lock;
  };
  beforeAll(async () => {
    etcd = await startEtcd();
  });
  afterAll(async () => {
    await Promise.all(locks.map((l) => l.close()));
    await etcd?.stop();
  });
  /** A store of its own for one test, closed after it. */
  const withStore = async (use: (store: EtcdLockStore) => Promise<void>) => {
    const store = new EtcdLockStore({ endpoints: etcd.endpoints });
    try {
      await use(store);
    } finally {
      await store.close();
    }
  };

  test('value in etcd is airlock\'s layout, created at version 1, with a keel hold-time key', async () => {
    const lock = open('layout');
    await lock.acquire('node-a');
    const got = JSON.parse(await etcd.etcdctl(['get', 'com.coreos.airlock/groups/layout/v1/semaphore', '-w', 'json'])) as { kvs: { value: string; version: number }[] };
    expect(Buffer.from(got.kvs[0]!.value, 'base64').toString()).toBe('{"total_slots":1,"holders":["node-a"]}');
    expect(got.kvs[0]!.version).toBe(1);
    const since = (await etcd.etcdctl(['get', 'com.coreos.airlock/groups/layout/v1/keel-holders/node-a', '--print-value-only'])).trim();
    expect(Date.parse(since)).toBeGreaterThan(Date.now() - 60_000);
    const status = await lock.status();
    expect(status).toMatchObject({ group: 'layout', totalSlots: 1, holders: [{ id: 'node-a', since }] });
    await lock.release('node-a');
    expect((await etcd.etcdctl(['get', 'com.coreos.airlock/groups/layout/v1/semaphore', '--print-value-only'])).trim()).toBe('{"total_slots":1,"holders":[]}');
    expect((await etcd.etcdctl(['get', '--prefix', 'com.coreos.airlock/groups/layout/v1/keel-holders/'])).trim()).toBe('');
  });

  test('a semaphore written by airlock (Go null holders) is taken and kept in its layout', async () => {
    await etcd.etcdctl(['put', 'com.coreos.airlock/groups/fcos/v1/semaphore', '{"total_slots":2,"holders":null}']);
    const lock = open('fcos');
    await lock.acquire('keel-1');
    expect((await etcd.etcdctl(['get', 'com.coreos.airlock/groups/fcos/v1/semaphore', '--print-value-only'])).trim()).toBe('{"total_slots":2,"holders":["keel-1"]}');
  });

  test('full: conflict without wait; a waiter gets the slot on release; groups are independent', async () => {
    const a = open('wait');
    const b = open('wait');
    const other = open('other');
    await a.acquire('a');
    await other.acquire('b', { wait: false });
    const refused = await b.acquire('b', { wait: false }).catch((e: unknown) => e as KeelError);
    expect(refused).toMatchObject({ kind: 'conflict' });
    expect((refused as KeelError).message).toContain("group 'wait' has all 1 slot taken, held by a");
    const waiting = b.acquire('b');
    await new Promise((r) => setTimeout(r, 100));
    const t0 = performance.now();
    await a.release('a');
    await waiting;
    console.log(`hand-off on one member: ${(performance.now() - t0).toFixed(1)} ms`);
    expect((await a.status()).holders.map((h) => h.id)).toEqual(['b']);
  });

  test("a rider's writes go in the confirmation of a slot handed over (a transaction inside it), only while its absent keys are absent", async () => {
    const handOver = async (group: string, rider: { absent: string[]; puts: Record<string, string> }) => {
      const a = open(group);
      await a.acquire('a');
      let told: boolean | undefined;
      const waiting = open(group).acquire('b', { rider, whenGranted: async (rode) => void (told = rode) });
      await new Promise((r) => setTimeout(r, 200));
      await a.release('a');
      await waiting;
      expect((await a.status()).holders.map((h) => h.id)).toEqual(['b']);
      return told;
    };
    expect(await handOver('rider-made', { absent: ['rider/rollout', 'rider/started/b'], puts: { 'rider/started/b': 'now' } })).toBe(true);
    expect((await etcd.etcdctl(['get', 'rider/started/b', '--print-value-only'])).trim()).toBe('now');
    await etcd.etcdctl(['put', 'rider/rollout-halted', '{}']);
    expect(await handOver('rider-refused', { absent: ['rider/rollout-halted', 'rider/started/c'], puts: { 'rider/started/c': 'now' } })).toBe(false);
    expect((await etcd.etcdctl(['get', 'rider/started/c', '--print-value-only'])).trim()).toBe('');
  });

  test("a release's riders go in with its mark (transactions inside it), each by its own condition, holder or not", async () => {
    const a = open('rider-release');
    await a.acquire('a');
    await etcd.etcdctl(['put', 'rr/started/a', 'then']);
    const riders: Rider[] = [{ absent: [], puts: { 'rr/succeeded/a': 'now' } }, { absent: ['rr/started/a'], puts: { 'rr/started/a': 'now' } }];
    expect(await a.release('a', { riders })).toEqual({ rode: true });
    expect((await a.status()).holders).toEqual([]);
    expect((await etcd.etcdctl(['get', 'rr/', '--prefix'])).trim().split('\n')).toEqual(['rr/started/a', 'then', 'rr/succeeded/a', 'now']);
    // No longer a holder: the riders are written all the same, and no release mark is left behind.
    expect(await a.release('b', { riders: [{ absent: ['rr/started/b'], puts: { 'rr/started/b': 'now', 'rr/succeeded/b': 'now' } }] })).toEqual({ rode: true });
    expect((await etcd.etcdctl(['get', 'rr/', '--prefix', '--keys-only'])).split('\n').filter(Boolean)).toEqual(['rr/started/a', 'rr/started/b', 'rr/succeeded/a', 'rr/succeeded/b']);
    expect((await etcd.etcdctl(['get', 'com.coreos.airlock/groups/rider-release/v1/keel-released/', '--prefix', '--keys-only'])).trim()).toBe('');
  });

  test('20 releases at once with 20 waiters queued: every slot handed on, fewer swaps than releases, no mark or hold left', async () => {
    const group = 'fold';
    const holders = Array.from({ length: 20 }, (_, i) => `h${String(i).padStart(2, '0')}`);
    const waiters = Array.from({ length: 20 }, (_, i) => `w${String(i).padStart(2, '0')}`);
    await open(group).setMax(20);
    for (const id of holders) await open(group).acquire(id, { wait: false });
    const waiting = waiters.map((id) => open(group).acquire(id));
    await new Promise((r) => setTimeout(r, 300));
    const versionOf = async () => (JSON.parse(await etcd.etcdctl(['get', `com.coreos.airlock/groups/${group}/v1/semaphore`, '-w', 'json'])) as { kvs: { version: number }[] }).kvs[0]!.version;
    const before = await versionOf();
    await Promise.all(holders.map((id) => open(group).release(id)));
    await Promise.all(waiting);
    expect((await open(group).status()).holders.map((h) => h.id)).toEqual(waiters);
    // Each swap that folds several marks in frees (and hands on) several slots at once.
    const swaps = (await versionOf()) - before;
    console.log(`20 releases at once: ${swaps} swaps of the semaphore`);
    expect(swaps).toBeLessThan(holders.length);
    expect((await etcd.etcdctl(['get', '--prefix', '--keys-only', `com.coreos.airlock/groups/${group}/v1/keel-released/`])).trim()).toBe('');
    const held = (await etcd.etcdctl(['get', '--prefix', '--keys-only', `com.coreos.airlock/groups/${group}/v1/keel-holders/`])).split('\n').filter(Boolean);
    expect(held.map((k) => k.split('/').at(-1))).toEqual(waiters);
  });

  test('a queue longer than a look reads: slots go in order, each release reading within the window recorded in etcd', async () => {
    const group = 'window';
    const client = new Etcd3({ hosts: etcd.endpoints });
    const on = () => {
      const lock = new SemaphoreLock({ store: new EtcdLockStore({ endpoints: etcd.endpoints }, { client }), group });
      locks.push(lock);
      return lock;
    };
    const name = (i: number) => `w${String(i).padStart(3, '0')}`;
    await on().acquire('holder');
    const got: string[] = [];
    const base = Date.now() - 60_000;
    const waiting = Array.from({ length: 100 }, (_, i) => on().acquire(name(i), { queuedSince: base + i }).then(() => got.push(name(i))));
    await new Promise((r) => setTimeout(r, 500));
    const windowKey = `com.coreos.airlock/groups/${group}/v1/keel-queue-window`;
    const record = async () => JSON.parse((await etcd.etcdctl(['get', windowKey, '--print-value-only'])).trim() || 'null') as { from: string; to?: string } | null;
    expect(await record()).toBeNull();
    let holder = 'holder';
    for (let turn = 0; turn < 100; turn++) {
      await on().release(holder); // a fresh lock, as after a reboot: it reads the window first
      while (got.length <= turn) await new Promise((r) => setTimeout(r, 5));
      holder = got[turn]!;
      if (turn === 0) {
        // The first release read the whole queue, then set the window's end at the last key.
        const first = await record();
        expect(first?.to?.endsWith(`/${name(99)}`)).toBe(true);
      }
      if (turn === 40) expect((await record())?.from.endsWith(`/${name(40)}`)).toBe(true);
    }
    expect(got).toEqual(Array.from({ length: 100 }, (_, i) => name(i)));
    await on().release(holder);
    await Promise.all(waiting);
    expect((await etcd.etcdctl(['get', '--prefix', '--keys-only', `com.coreos.airlock/groups/${group}/v1/keel-queue/`])).trim()).toBe('');
    client.close();
  });

  test('a wait whose watch etcd cancels (its start compacted away) ends at once for a fresh look, and the next wait watches again', () =>
    withStore(async (store) => {
      const key = 'compacted/key';
      const before = await store.get(key);
      for (let i = 0; i < 3; i++) await etcd.etcdctl(['put', key, `v${i}`]);
      const now = await store.get(key);
      await etcd.etcdctl(['compact', String(now.revision)]);
      // Its watch would start inside the compacted history: etcd cancels it, and the wait ends
      // (a safety wake, undefined) instead of sleeping out its 60 s on a watch nobody feeds.
      expect(await store.waitForChange(key, before.revision, 60_000)).toBeUndefined();
      const next = store.waitForChange(key, now.revision, 60_000);
      await etcd.etcdctl(['put', key, 'after']);
      expect((await next)?.value).toBe('after');
    }), 30_000);

  test('a watch started from now, before a key is written, hands each later change to a wait from a later read', () =>
    withStore(async (store) => {
      const key = 'from-now/key';
      await store.watchFromNow(key);
      await etcd.etcdctl(['put', key, 'joined']);
      const joined = await store.get(key);
      const next = store.waitForChange(key, joined.revision, 60_000);
      await etcd.etcdctl(['put', key, 'granted']);
      expect(await next).toMatchObject({ value: 'granted', revision: joined.revision + 1 });
      // A change made before the wait began, after the read it waits from, is answered at once.
      await etcd.etcdctl(['put', key, 'again']);
      expect((await store.waitForChange(key, joined.revision + 1, 60_000))?.value).toBe('again');
    }), 30_000);

  test('more keys read at once than one etcd transaction may hold (128 operations)', () =>
    withStore(async (store) => {
      const keys = Array.from({ length: 300 }, (_, i) => `many/${String(i).padStart(3, '0')}`);
      await Promise.all(keys.filter((_, i) => i % 3 === 0).map((k) => etcd.etcdctl(['put', k, k])));
      const read = await store.readKeys(keys);
      expect([...read.keys()].sort()).toEqual(keys.filter((_, i) => i % 3 === 0));
      expect(read.get('many/297')?.value).toBe('many/297');
    }), 30_000);

  test('set-max raises the slots and an operator can release any holder', async () => {
    const lock = open('ops');
    await lock.acquire('x');
    await lock.setMax(3);
    await lock.acquire('y', { wait: false });
    expect(await lock.status()).toMatchObject({ totalSlots: 3, holders: [{ id: 'x' }, { id: 'y' }] });
    await open('ops').release('x');
    expect((await lock.status()).holders.map((h) => h.id)).toEqual(['y']);
  });
});

describe('etcd lock, maximum hold time', () => {
  test('a recorded holder past the limit is released for a waiter; an airlock holder never is', async () => {
    const etcd = await startEtcd();
    try {
      let now = Date.now();
      const lock = new SemaphoreLock({ store: new EtcdLockStore({ endpoints: etcd.endpoints }), group: 'maxhold', maxHoldMs: 60_000, now: () => now });
      await lock.acquire('dead-node');
      await expect(lock.acquire('n2', { wait: false })).rejects.toMatchObject({ kind: 'conflict' });
      now += 61_000;
      await lock.acquire('n2', { wait: false });
      expect((await lock.status()).holders.map((h) => h.id)).toEqual(['n2']);
      expect((await etcd.etcdctl(['get', '--prefix', '--keys-only', 'com.coreos.airlock/groups/maxhold/v1/keel-holders/'])).trim()).toBe('com.coreos.airlock/groups/maxhold/v1/keel-holders/n2');
      await etcd.etcdctl(['put', 'com.coreos.airlock/groups/maxhold/v1/semaphore', '{"total_slots":1,"holders":["fcos-node"]}']);
      now += 10 * 86_400_000;
      await expect(lock.acquire('n3', { wait: false })).rejects.toMatchObject({ kind: 'conflict' });
      await lock.close();
    } finally {
      await etcd.stop();
    }
  });
});

describe('etcd lock, security', () => {
  test('TLS with client certificates made by the test', async () => {
    const certs = makeTestCerts();
    const etcd = await startEtcd({ tls: certs });
    try {
      expect(etcd.endpoints[0]).toMatch(/^https:/);
      const lock = new SemaphoreLock({ store: new EtcdLockStore({ endpoints: etcd.endpoints, cafile: certs.caFile, certfile: certs.clientCertFile, keyfile: certs.clientKeyFile }), group: 'tls' });
      await lock.acquire('n1');
      expect((await lock.status()).holders.map((h) => h.id)).toEqual(['n1']);
      await lock.close();
      // without a client certificate the server refuses the handshake: no answer, unavailable
      const bare = new SemaphoreLock({ store: new EtcdLockStore({ endpoints: etcd.endpoints, cafile: certs.caFile }), group: 'tls', operationTimeoutMs: 1500 });
      await expect(bare.status()).rejects.toMatchObject({ kind: 'unavailable' });
      await bare.close();
    } finally {
      await etcd.stop();
      rmSync(certs.dir, { recursive: true, force: true });
    }
  });

  test('user and password auth', async () => {
    const etcd = await startEtcd();
    try {
      await etcd.etcdctl(['user', 'add', 'root:rootpw']);
      await etcd.etcdctl(['user', 'add', 'keel:keelpw']);
      await etcd.etcdctl(['role', 'add', 'reboot']);
      await etcd.etcdctl(['role', 'grant-permission', 'reboot', '--prefix=true', 'readwrite', 'com.coreos.airlock/']);
      await etcd.etcdctl(['user', 'grant-role', 'keel', 'reboot']);
      await etcd.etcdctl(['auth', 'enable']);
      const lock = new SemaphoreLock({ store: new EtcdLockStore({ endpoints: etcd.endpoints, username: 'keel', password: 'keelpw' }), group: 'auth' });
      await lock.acquire('n1');
      expect((await lock.status()).holders.map((h) => h.id)).toEqual(['n1']);
      await lock.close();
      const wrong = new SemaphoreLock({ store: new EtcdLockStore({ endpoints: etcd.endpoints, username: 'keel', password: 'nope' }), group: 'auth' });
      await expect(wrong.status()).rejects.toMatchObject({ kind: 'invalid-input' });
      await wrong.close();
      const anonymous = new SemaphoreLock({ store: new EtcdLockStore({ endpoints: etcd.endpoints }), group: 'auth' });
      await expect(anonymous.status()).rejects.toMatchObject({ kind: 'invalid-input', message: expect.stringMatching(/user name is empty/) });
      await anonymous.close();
    } finally {
      await etcd.stop();
    }
  });
});
