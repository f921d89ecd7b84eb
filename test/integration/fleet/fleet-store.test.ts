// The fleet's etcd edge against a real etcd member: rollout changes are compare-and-swaps
// that keep concurrent failures, the brake halts at max_failures naming the node, bad
// records are skipped with a warning, and a node whose lease ends stays visible as lost.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Etcd3 } from 'etcd3';
import { startEtcd, type EtcdCluster } from '../../harness/etcd.js';
import { FleetStore, fleetEtcdOptions } from '../../../src/fleet/fleet-store.js';
import { fleetStatus } from '../../../src/fleet/fleet-status.js';
import { nodeRecord, type NodeRecord } from '../../../src/fleet/node-record.js';
import type { RolloutPolicy } from '../../../src/fleet/rollout-policy.js';

let etcd: EtcdCluster;
const stores: FleetStore[] = [];
const open = (options: ConstructorParameters<typeof FleetStore>[1] = {}) => {
  const s = new FleetStore({ endpoints: etcd.endpoints }, options);
  stores.push(s);
  return s;
};
const record = (id: string, over: Partial<NodeRecord> = {}): NodeRecord =>
  nodeRecord({ machineId: id, hostname: `host-${id}`, version: '1.0.0', slot: 'a', state: 'steady', stateSince: new Date().toISOString(), updatedAt: new Date().toISOString(), ...over });
const policy = (count: number): RolloutPolicy => ({ maxFailures: { kind: 'count', count }, healthDeadlineMs: 60_000 });

beforeAll(async () => {
  etcd = await startEtcd();
});
afterAll(async () => {
  for (const s of stores) await s.close({ revoke: true }).catch(() => undefined);
  for (const c of clients) c.close();
  await etcd?.stop();
});

/** A store whose next commit first runs `before`'s write from elsewhere: a lost race, every time. */
function racingStore(): { store: FleetStore; before(f: () => Promise<unknown>): void } {
  const real = new Etcd3(fleetEtcdOptions({ endpoints: etcd.endpoints }));
  let interfere: (() => Promise<unknown>) | undefined;
  const client = new Proxy(real, {
    get(target, prop) {
      if (prop === 'if')
        return (...args: Parameters<Etcd3['if']>) => {
          const builder = target.if(...args);
          const commit = builder.commit.bind(builder);
          builder.commit = async () => {
            const f = interfere;
            interfere = undefined;
            if (f) await f();
            return commit();
          };
          return builder;
        };
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  const store = new FleetStore({ client });
  stores.push(store);
  clients.push(real);
  return { store, before: (f) => void (interfere = f) };
}
const clients: Etcd3[] = [];

describe('rollout records in etcd', () => {
  test('a write that lands between a read and its compare-and-swap is kept: both failures count', async () => {
    const other = open();
    const { store: racing, before } = racingStore();
    for (const id of ['n1', 'n2', 'n3']) await other.publishNode('race', record(id));
    before(() => other.recordFailed('race', '2.0.0', { machineId: 'n2', error: 'rolled back' }, policy(5)));
    const change = await racing.recordFailed('race', '2.0.0', { machineId: 'n1', error: 'health gate failed' }, policy(5));
    expect(change).toMatchObject({ ok: true, changed: true, attempts: 2 });
    const stored = await other.readRollout('race', '2.0.0');
    expect(stored?.failed.map((f) => f.machineId)).toEqual(['n2', 'n1']);
  });

  test('a halt that lands between a start\'s read and its write stops the start', async () => {
    const other = open();
    const { store: racing, before } = racingStore();
    before(() => other.halt('race', '2.1.0', 'stop now'));
    const change = await racing.recordStarted('race', '2.1.0', 'n1');
    expect(change).toMatchObject({ ok: false, attempts: 2, reason: expect.stringContaining('by operator: stop now') });
    expect((await other.readRollout('race', '2.1.0'))?.started).toEqual([]);
  });

  test('starts and successes do not contend: twelve at once each land on the first try', async () => {
    const clients = [open(), open(), open(), open()];
    const ids = Array.from({ length: 12 }, (_, i) => `s${i}`);
    const starts = await Promise.all(ids.map((id, i) => clients[i % 4]!.recordStarted('calm', '2.0.0', id)));
    expect(starts.map((c) => [c.ok, c.attempts])).toEqual(ids.map(() => [true, 1]));
    const wins = await Promise.all(ids.map((id, i) => clients[i % 4]!.recordSucceeded('calm', '2.0.0', id)));
    expect(wins.map((c) => [c.ok, c.attempts])).toEqual(ids.map(() => [true, 1]));
    const stored = await clients[0]!.readRollout('calm', '2.0.0');
    expect([stored?.started.length, stored?.succeeded.length]).toEqual([12, 12]);
    // No stored value was written: the marks are keys of their own.
    expect((await clients[0]!.client.get('/keel/fleet/calm/rollouts/2.0.0').exec()).kvs).toHaveLength(0);
  });

  test('a start on a rollout with no stored value is one transaction; with one (a failure counted), a read and a swap', async () => {
    const s = open();
    const real = s.client.kv;
    let txns = 0;
    const counting = new Proxy(real, { get: (t, p) => (p === 'txn' ? (...a: Parameters<typeof real.txn>) => (txns++, t.txn(...a)) : (Reflect.get(t, p, t) as unknown)) });
    Object.defineProperty(s.client, 'kv', { value: counting });
    expect(await s.recordStarted('fast', '2.0.0', 'f1')).toMatchObject({ ok: true, changed: true, attempts: 1 });
    expect(txns).toBe(1);
    // Again: the mark is there, nothing changes (the guarded write falls through to a read).
    expect(await s.recordStarted('fast', '2.0.0', 'f1')).toMatchObject({ ok: true, changed: false });
    await s.recordFailed('fast', '2.0.0', { machineId: 'f2', error: 'rolled back' }, policy(5));
    txns = 0;
    expect(await s.recordStarted('fast', '2.0.0', 'f3')).toMatchObject({ ok: true, changed: true, attempts: 2 });
    expect(txns).toBe(3);
    expect((await s.readRollout('fast', '2.0.0'))?.started.sort()).toEqual(['f1', 'f2', 'f3']);
  });

  test('twelve nodes failing at once from four clients are all counted', async () => {
    const clients = [open(), open(), open(), open()];
    const ids = Array.from({ length: 12 }, (_, i) => `m${i}`);
    for (const id of ids) await clients[0]!.publishNode('crowd', record(id));
    const changes = await Promise.all(ids.map((id, i) => clients[i % 4]!.recordFailed('crowd', '2.0.0', { machineId: id, error: `e${i}` }, policy(100))));
    expect(changes.every((c) => c.ok && c.changed)).toBe(true);
    const stored = await clients[0]!.readRollout('crowd', '2.0.0');
    expect(stored?.failed.map((f) => f.machineId).sort()).toEqual([...ids].sort());
    expect(stored?.started.sort()).toEqual([...ids].sort());
  });

  test('the rollout halts when failures reach max_failures, naming the node and error; starts are refused; resume', async () => {
    const s = open();
    for (const id of ['h1', 'h2', 'h3', 'h4']) await s.publishNode('brake', record(id));
    expect(await s.recordStarted('brake', '3.0.0', 'h1')).toMatchObject({ ok: true, changed: true });
    expect((await s.recordFailed('brake', '3.0.0', { machineId: 'h1', error: 'rolled back to 1.0.0' }, policy(2))).record.halted).toBeUndefined();
    const tripped = await s.recordFailed('brake', '3.0.0', { machineId: 'h2', error: 'health gate: web.service failed' }, policy(2));
    expect(tripped.record.halted).toMatchObject({ by: 'policy', machineId: 'h2', error: 'health gate: web.service failed', reason: '2 of 4 nodes failed, reaching max_failures 2' });
    const refused = await s.recordStarted('brake', '3.0.0', 'h3');
    expect(refused).toMatchObject({ ok: false, reason: expect.stringContaining('tripped by h2: health gate: web.service failed') });
    expect((await s.readRollout('brake', '3.0.0'))?.started).toEqual(['h1', 'h2']);
    expect(await s.resume('brake', '3.0.0')).toMatchObject({ ok: true, changed: true });
    expect(await s.recordStarted('brake', '3.0.0', 'h3')).toMatchObject({ ok: true, changed: true });
    // The percentage form counts the live group: 50 % of 4 nodes is 2.
    const pct: RolloutPolicy = { maxFailures: { kind: 'percent', percent: 50 }, healthDeadlineMs: 1 };
    await s.recordFailed('brake', '3.1.0', { machineId: 'h1', error: 'x' }, pct);
    expect((await s.recordFailed('brake', '3.1.0', { machineId: 'h3', error: 'y' }, pct)).record.halted?.reason).toBe('2 of 4 nodes failed, reaching max_failures 50% (2 nodes)');
  });

  test('malformed and foreign records are skipped with a warning naming the key; a malformed rollout is not overwritten', async () => {
    const s = open();
    await s.publishNode('bad', record('good1'));
    await etcd.etcdctl(['put', '/keel/fleet/bad/nodes/broken', '{"schema":"keel.fleet.node/v1","machineId":']);
    await etcd.etcdctl(['put', '/keel/fleet/bad/nodes/alien', '{"schema":"acme/v3","machineId":"alien"}']);
    await etcd.etcdctl(['put', '/keel/fleet/bad/rollouts/9.9.9', '[]']);
    const status = fleetStatus((await s.read('bad')).input);
    expect(status.nodes.map((n) => n.record.machineId)).toEqual(['good1']);
    expect(status.warnings).toEqual([
      '/keel/fleet/bad/nodes/alien: schema: expected "keel.fleet.node/v1", found "acme/v3" (a foreign or newer record); skipping this node record',
      '/keel/fleet/bad/nodes/broken: expected JSON, found unparsable text; skipping this node record',
      '/keel/fleet/bad/rollouts/9.9.9: expected a JSON object, found an array; skipping this rollout record',
    ]);
    await expect(s.recordFailed('bad', '9.9.9', { machineId: 'good1', error: 'x' }, policy(1))).rejects.toThrow(
      '/keel/fleet/bad/rollouts/9.9.9: expected a JSON object, found an array; refusing to change it (delete the key to start this rollout afresh)',
    );
    expect((await etcd.etcdctl(['get', '/keel/fleet/bad/rollouts/9.9.9', '--print-value-only'])).trim()).toBe('[]');
  });
});

describe('node records in etcd', () => {
  test('a node whose lease ends drops out of nodes/ and shows as lost; its record is kept a day', async () => {
    const s = new FleetStore({ endpoints: etcd.endpoints }, { nodeLeaseSeconds: 2 });
    await s.publishNode('lost', record('gone', { state: 'staged', staged: '2.0.0' }));
    const reader = open();
    await reader.publishNode('lost', record('alive'));
    expect(fleetStatus((await reader.read('lost')).input).nodes.map((n) => [n.record.machineId, n.lost])).toEqual([['alive', false], ['gone', false]]);
    await s.close(); // stops the keep-alives, as a node that dies
    let lines: [string, boolean][] = [];
    for (let i = 0; i < 100; i++) {
      lines = fleetStatus((await reader.read('lost')).input).nodes.map((n) => [n.record.machineId, n.lost]);
      if (lines.some(([id, lost]) => id === 'gone' && lost)) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(lines).toEqual([['alive', false], ['gone', true]]);
    // Lease ids pass 2^53: read the key through etcd3 (strings), not etcdctl's JSON numbers.
    const lease = BigInt((await reader.client.get('/keel/fleet/lost/lost/gone').exec()).kvs[0]!.lease).toString(16);
    const ttl = JSON.parse(await etcd.etcdctl(['lease', 'timetolive', lease, '-w', 'json'])) as { ttl: number };
    expect(ttl.ttl).toBeGreaterThan(23 * 3600);
  });

  test('a node lease revoked behind the agent\'s back is replaced and the record written again', async () => {
    const s = new FleetStore({ endpoints: etcd.endpoints }, { nodeLeaseSeconds: 3 });
    stores.push(s);
    await s.publishNode('revoked', record('r1', { state: 'staged' }));
    const key = '/keel/fleet/revoked/nodes/r1';
    const lease = BigInt((await s.client.get(key).exec()).kvs[0]!.lease).toString(16);
    await etcd.etcdctl(['lease', 'revoke', lease]);
    expect((await s.client.get(key).exec()).kvs).toHaveLength(0);
    let kvs: { lease: string; value: Buffer }[] = [];
    for (let i = 0; i < 50 && kvs.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 200));
      kvs = (await s.client.get(key).exec()).kvs;
    }
    expect(JSON.parse(kvs[0]!.value.toString())).toMatchObject({ machineId: 'r1', state: 'staged' });
    expect(BigInt(kvs[0]!.lease).toString(16)).not.toBe(lease);
  });

  test('a record written again after a lost lease never lands after a newer state (regression: a node stayed booted in etcd while staged)', async () => {
    // A client whose writes of the `booted` record are slow: the rewrite after the lease is
    // lost is still in flight when the agent publishes `staged`.
    const real = new Etcd3(fleetEtcdOptions({ endpoints: etcd.endpoints }));
    clients.push(real);
    let bootedWrites = 0;
    let rewriting: () => void = () => undefined;
    const rewriteStarted = new Promise<void>((r) => (rewriting = r));
    const kv = new Proxy(real.kv, {
      get(target, prop) {
        const v = Reflect.get(target, prop, target) as (...a: unknown[]) => Promise<unknown>;
        if (prop !== 'txn') return typeof v === 'function' ? v.bind(target) : v;
        return async (req: { success?: { request_put?: { value?: Buffer } }[] }, ...rest: unknown[]) => {
          if (req.success?.some((op) => op.request_put?.value?.toString().includes('"state":"booted"'))) {
            if (++bootedWrites === 2) rewriting();
            await new Promise((r) => setTimeout(r, 500));
          }
          return v.call(target, req, ...rest);
        };
      },
    });
    const client = new Proxy(real, { get: (target, prop) => (prop === 'kv' ? kv : (Reflect.get(target, prop, target) as unknown)) });
    const s = new FleetStore({ client: client as Etcd3 }, { nodeLeaseSeconds: 3 });
    stores.push(s);
    const key = '/keel/fleet/overlap/nodes/o1';
    await s.publishNode('overlap', record('o1', { state: 'booted' }));
    const lease = BigInt((await real.get(key).exec()).kvs[0]!.lease).toString(16);
    await etcd.etcdctl(['lease', 'revoke', lease]);
    await rewriteStarted;
    await s.publishNode('overlap', record('o1', { state: 'staged', staged: '2.0.0' }));
    await new Promise((r) => setTimeout(r, 800)); // past the slow rewrite, had it gone out of order
    expect(JSON.parse((await real.get(key).exec()).kvs[0]!.value.toString())).toMatchObject({ state: 'staged', staged: '2.0.0' });
  });
});

describe('a success in one write', () => {
  test('marks succeeded (and started when the start was not seen), keeps the start time, and counts while halted', async () => {
    const store = open();
    await store.recordStarted('quick', '2.0.0', 'a1');
    const startedOf = async (id: string) => Object.entries(await store.client.getAll().prefix('/keel/fleet/quick/rollouts/2.0.0/started/').strings()).filter(([k]) => k.endsWith(`/${id}`)).map(([, v]) => v);
    const startedAt = await startedOf('a1');
    expect(startedAt).toHaveLength(1);
    await store.halt('quick', '2.0.0', 'operator pause');
    await store.markSucceeded('quick', '2.0.0', 'a1');
    await store.markSucceeded('quick', '2.0.0', 'b2');
    await store.markSucceeded('quick', '2.0.0', 'b2'); // a repeat after a lost reply changes nothing
    const r = await store.readRollout('quick', '2.0.0');
    expect(r).toMatchObject({ started: ['a1', 'b2'], succeeded: ['a1', 'b2'], halted: { reason: 'operator pause' } });
    expect(await startedOf('a1')).toEqual(startedAt);
  });
});

describe('fleet watch', () => {
  test('a watcher etcd cancels (its start compacted away) is replaced and the caller told to read again; later changes still arrive', async () => {
    const store = open();
    const group = 'compacted';
    const before = (await store.read(group)).revision;
    for (let i = 0; i < 3; i++) await etcd.etcdctl(['put', `/keel/fleet/${group}/nodes/c${i}`, 'x']);
    const now = (await store.read(group)).revision;
    await etcd.etcdctl(['compact', String(now)]);
    // All three watchers start inside the compacted history: etcd creates and then cancels
    // each, and each is replaced by one from now, whose revision the caller is given.
    const seen: number[] = [];
    let told!: () => void;
    const toldThrice = new Promise<void>((resolve) => (told = resolve));
    const watch = await store.watch(group, before, (revision) => {
      seen.push(revision);
      if (seen.length === 3) told();
    });
    await toldThrice;
    expect(seen.every((r) => r >= now)).toBe(true);
    await etcd.etcdctl(['put', `/keel/fleet/${group}/nodes/c9`, 'x']);
    await etcd.etcdctl(['put', `com.coreos.airlock/groups/${group}/v1/semaphore`, '{"total_slots":1,"holders":[]}']);
    while (seen.length < 5) await new Promise((r) => setTimeout(r, 20));
    expect(seen.slice(3).every((r) => r > now)).toBe(true);
    await watch.close();
  }, 30_000);
});
