/**
 * size: the one etcd adapter of the lock: each LockStore method is a short request; the shared watch is its only state
 * The LockStore over etcd v3 (npm `etcd3`). Writes are one transaction guarded by
 * `version(key) == <read version>` (0 = create only), as airlock does. The connection
 * (deadlines, breaker, retry, TLS, auth) is etcd-connection.ts's; queue keys ride on a lease
 * kept alive by the client's lease keeper (lease-keeper.ts).
 */
import { once } from 'node:events';
import { CompareResult, CompareTarget, Etcd3, type Watcher } from 'etcd3';
import { defaultCallTimeoutMs, etcdError, etcdOptions, type EtcdConnection } from './etcd-connection.js';
import { leaseKeeperFor, type KeptLease } from './lease-keeper.js';
import { maxTxnOps, type CompareAndSwap, type GrantConfirmation, type LockStore, type LockView, type ReleaseMark, type VersionedValue, type ViewKeys } from './lock-store.js';
import type { Rider } from './reboot-lock.js';
import { releasedReadLimit } from './release-marks.js';
import { riderOps, type TxnOp } from './rider-ops.js';

export { etcdError, etcdOptions, type EtcdConnection } from './etcd-connection.js';

interface SharedWatch {
  watcher: Watcher;
  /** The revision the watcher started after. */
  baseline: number;
  last: VersionedValue | undefined;
  /** Each waiter's: the next change, or undefined when etcd cancelled the watch. */
  listeners: Set<(v: VersionedValue | undefined) => void>;
  idle: NodeJS.Timeout | undefined;
  /** etcd cancelled it: out of the map, never cancelled or reused again. */
  dead: boolean;
}

/** A shared watcher with no waiter left is cancelled after this long. */
const sharedWatchIdleMs = 5000;

/** A dead waiter's queue key disappears this long after its process stops (default). */
const defaultWaiterLeaseSeconds = 10;

/** The end of a prefix range: the prefix with its last byte raised by one. */
function prefixEnd(prefix: string): Buffer {
  const end = Buffer.from(prefix);
  end[end.length - 1]!++;
  return end;
}

function versioned(kv: { value?: Buffer | null; version?: string | number | null } | undefined, revision: string | number | null | undefined): VersionedValue {
  return { value: kv?.value ? kv.value.toString('utf8') : undefined, version: Number(kv?.version ?? 0), revision: Number(revision ?? 0) };
}

type TxnResponse = Awaited<ReturnType<Etcd3['kv']['txn']>>['responses'][number];

/** A compare-and-swap's compares and writes, as one transaction's. */
function casOps(change: CompareAndSwap): { compare: Parameters<Etcd3['kv']['txn']>[0]['compare']; success: TxnOp[] } {
  const compare = [
    { key: Buffer.from(change.key), target: CompareTarget.Version, result: CompareResult.Equal, version: change.expectedVersion },
    ...Object.entries(change.expect ?? {}).map(([key, rev]) => ({ key: Buffer.from(key), target: CompareTarget.Mod, result: CompareResult.Equal, mod_revision: rev })),
  ];
  const success: TxnOp[] = [
    { request_put: { key: Buffer.from(change.key), value: Buffer.from(change.value) } },
    ...Object.entries(change.puts ?? {}).map(([k, v]) => ({ request_put: { key: Buffer.from(k), value: Buffer.from(v) } })),
    ...Object.entries(change.rewrites ?? {}).map(([k, v]) => ({ request_put: { key: Buffer.from(k), value: Buffer.from(v), ignore_lease: true } })),
    ...(change.deletes ?? []).map((k) => ({ request_delete_range: { key: Buffer.from(k) } })),
  ];
  return { compare, success };
}

/** The end of an inclusive range: the key followed by a zero byte, the next key there can be. */
function keyAfter(key: string): Buffer {
  return Buffer.concat([Buffer.from(key), Buffer.from([0])]);
}

/**
 * The four reads of a look at a group: its semaphore, the head of its queue and its recent
 * release marks within the keys' bounds, its queue window. etcd 3.4 walks the whole of each
 * range whatever its limit, deleted keys too (queue-window.ts), hence the bounds.
 */
function viewOps(keys: ViewKeys): TxnOp[] {
  const queueEnd = keys.queueTo === undefined ? prefixEnd(keys.queuePrefix) : keyAfter(keys.queueTo);
  return [
    { request_range: { key: Buffer.from(keys.semaphore) } },
    { request_range: { key: Buffer.from(keys.queueFrom ?? keys.queuePrefix), range_end: queueEnd, limit: keys.queueLimit } },
    { request_range: { key: Buffer.from(keys.releasedFrom ?? keys.releasedPrefix), range_end: prefixEnd(keys.releasedPrefix), limit: releasedReadLimit } },
    { request_range: { key: Buffer.from(keys.window) } },
  ];
}

function viewOf(responses: TxnResponse[], revision: string | number): LockView {
  const [semaphore, queue, released, window] = responses.map((r) => r.response_range?.kvs ?? []);
  return {
    semaphore: versioned(semaphore?.[0], revision),
    queue: (queue ?? []).map((kv) => ({ key: kv.key.toString('utf8'), value: kv.value.toString('utf8'), modRevision: Number(kv.mod_revision) })),
    released: (released ?? []).map((kv) => kv.key.toString('utf8')),
    window: versioned(window?.[0], revision),
  };
}

/** The kinds of request the store sends etcd: reads, prefix reads, writes, a grant's confirmation, new watchers, queue reads. */
export type EtcdRequestKind = 'get' | 'list' | 'commit' | 'confirm' | 'watch' | 'queue';

/** What a store tells an observer; the lock benchmark counts requests per waiting agent with it. */
export interface EtcdStoreObserver {
  onRequest?(kind: EtcdRequestKind): void;
}

/** What else a store may be given: a client to share, and its waiters' lease time. */
export interface EtcdStoreExtras extends EtcdStoreObserver {
  /** A client the process already has (its gRPC channels are shared; closing the store leaves it open). */
  client?: Etcd3;
  /** TTL of the lease binding this store's queue keys when it makes its own. Default 10 s. */
  waiterLeaseSeconds?: number;
  /**
   * A lease the process already keeps alive (an agent's node-record lease): its queue keys
   * ride on it, so one agent keeps one lease alive, not two.
   */
  lease?: () => Promise<string>;
}

/**
 * The real LockStore: its own client, or a client shared with the rest of the process.
 * Each store has its own lease for its queue keys, so several agents on one client still
 * each leave the queue when they stop.
 */
export class EtcdLockStore implements LockStore {
  readonly client: Etcd3;
  /** This store's lease for its queue keys, kept alive by the client's lease keeper; replaced if lost. */
  private lease: KeptLease | undefined;

  private readonly callTimeoutMs: number;
  private readonly ownsClient: boolean;
  private readonly waiterLeaseSeconds: number;
  private readonly observer: EtcdStoreObserver;
  private readonly sharedLease: (() => Promise<string>) | undefined;

  constructor(connection: EtcdConnection, extras: EtcdStoreExtras = {}) {
    this.client = extras.client ?? new Etcd3(etcdOptions(connection));
    this.ownsClient = extras.client === undefined;
    this.callTimeoutMs = connection.callTimeoutMs ?? defaultCallTimeoutMs;
    this.waiterLeaseSeconds = extras.waiterLeaseSeconds ?? defaultWaiterLeaseSeconds;
    this.observer = extras;
    this.sharedLease = extras.lease;
  }

  private sent(kind: EtcdRequestKind): void {
    this.observer.onRequest?.(kind);
  }

  async get(key: string): Promise<VersionedValue> {
    this.sent('get');
    try {
      const res = await this.client.get(key).exec();
      return versioned(res.kvs[0], res.header.revision);
    } catch (error) {
      throw etcdError(error, `reading ${key}`);
    }
  }

  async list(prefix: string, _signal?: AbortSignal, from = prefix): Promise<Map<string, string>> {
    this.sent('list');
    try {
      const res = await this.client.kv.range({ key: Buffer.from(from), range_end: prefixEnd(prefix) }, this.callOptions());
      return new Map(res.kvs.map((kv) => [kv.key.toString('utf8'), kv.value.toString('utf8')]));
    } catch (error) {
      throw etcdError(error, `listing ${prefix}`);
    }
  }

  async commit(change: CompareAndSwap): Promise<boolean> {
    return (await this.cas(change, [])).succeeded;
  }

  async swap(change: CompareAndSwap, keys: ViewKeys): Promise<LockView | undefined> {
    const res = await this.cas(change, viewOps(keys));
    return res.succeeded ? undefined : viewOf(res.responses, res.header.revision);
  }

  /** One compare-and-swap transaction, with `failure`'s reads when its compares do not hold. */
  private async cas(change: CompareAndSwap, failure: TxnOp[]): Promise<Awaited<ReturnType<Etcd3['kv']['txn']>>> {
    this.sent('commit');
    try {
      return await this.client.kv.txn({ ...casOps(change), failure }, this.callOptions());
    } catch (error) {
      throw etcdError(error, `writing ${change.key}`);
    }
  }

  private callOptions(): { deadline: Date } {
    return { deadline: new Date(Date.now() + this.callTimeoutMs) };
  }

  async view(keys: ViewKeys, _signal?: AbortSignal, mark?: ReleaseMark): Promise<LockView> {
    this.sent('get');
    try {
      const put: TxnOp[] = mark ? [{ request_put: { key: Buffer.from(mark.key), value: Buffer.from(mark.value) } }, ...riderOps(mark.riders ?? [])] : [];
      const res = await this.client.kv.txn({ compare: [], success: [...put, ...viewOps(keys)], failure: [] }, this.callOptions());
      return viewOf(res.responses.slice(put.length), res.header.revision);
    } catch (error) {
      throw etcdError(error, `reading ${keys.semaphore}`);
    }
  }

  async readKeys(keys: string[]): Promise<Map<string, { value: string; modRevision: number }>> {
    const found = new Map<string, { value: string; modRevision: number }>();
    try {
      // etcd refuses a transaction of more than maxTxnOps operations: one read per chunk.
      for (let at = 0; at < keys.length; at += maxTxnOps) {
        this.sent('get');
        const chunk = keys.slice(at, at + maxTxnOps);
        const res = await this.client.kv.txn({ compare: [], success: chunk.map((k) => ({ request_range: { key: Buffer.from(k) } })), failure: [] }, this.callOptions());
        for (const r of res.responses) for (const kv of r.response_range?.kvs ?? []) found.set(kv.key.toString('utf8'), { value: kv.value.toString('utf8'), modRevision: Number(kv.mod_revision) });
      }
      return found;
    } catch (error) {
      throw etcdError(error, `reading ${keys.length} keys`);
    }
  }

  private async leaseId(): Promise<string> {
    if (this.sharedLease) return this.sharedLease();
    if (!this.lease) {
      const lease = leaseKeeperFor(this.client).lease(this.waiterLeaseSeconds);
      lease.onLost(() => {
        if (this.lease === lease) this.lease = undefined;
      });
      this.lease = lease;
    }
    return this.lease.grant();
  }

  async enqueue(key: string, value: string, keys: ViewKeys): Promise<{ revision: number; semaphore: VersionedValue; window: VersionedValue }> {
    this.sent('queue');
    try {
      const lease = await this.leaseId();
      const reads = [{ request_range: { key: Buffer.from(keys.semaphore) } }, { request_range: { key: Buffer.from(keys.window) } }];
      // Create only: an existing key keeps its place in the queue.
      const res = await this.client.kv.txn(
        {
          compare: [{ key: Buffer.from(key), target: CompareTarget.Create, result: CompareResult.Equal, create_revision: 0 }],
          success: [{ request_put: { key: Buffer.from(key), value: Buffer.from(value), lease } }, ...reads],
          failure: reads,
        },
        this.callOptions(),
      );
      const [semaphore, window] = res.responses.slice(res.succeeded ? 1 : 0).map((r) => r.response_range?.kvs?.[0]);
      return { revision: Number(res.header.revision), semaphore: versioned(semaphore, res.header.revision), window: versioned(window, res.header.revision) };
    } catch (error) {
      this.lease = undefined;
      throw etcdError(error, `queueing ${key}`);
    }
  }

  async position(key: string, from: string): Promise<number> {
    this.sent('queue');
    try {
      const res = await this.client.kv.range({ key: Buffer.from(from), range_end: Buffer.from(key), count_only: true }, this.callOptions());
      return Number(res.count);
    } catch (error) {
      throw etcdError(error, `counting the queue before ${key}`);
    }
  }

  async queueKeys(queuePrefix: string, from: string, limit: number): Promise<string[]> {
    this.sent('queue');
    try {
      const res = await this.client.kv.range({ key: Buffer.from(from), range_end: prefixEnd(queuePrefix), limit, keys_only: true }, this.callOptions());
      return res.kvs.map((kv) => kv.key.toString('utf8'));
    } catch (error) {
      throw etcdError(error, `reading the queue from ${from}`);
    }
  }

  async confirm(grant: GrantConfirmation): Promise<{ confirmed: boolean; rode: boolean }> {
    this.sent('confirm');
    const { queueKey, holderKey, rider } = grant;
    const riding = riderOps(rider ? [rider] : []);
    try {
      const res = await this.client.kv.txn(
        {
          compare: [{ key: Buffer.from(holderKey), target: CompareTarget.Mod, result: CompareResult.Equal, mod_revision: grant.holderModRevision }],
          success: [{ request_delete_range: { key: Buffer.from(queueKey) } }, { request_put: { key: Buffer.from(holderKey), value: Buffer.from(grant.holderValue) } }, ...riding],
          failure: [],
        },
        this.callOptions(),
      );
      return { confirmed: res.succeeded, rode: res.succeeded && rider !== undefined && res.responses[2]?.response_txn?.succeeded === true };
    } catch (error) {
      throw etcdError(error, `confirming ${holderKey}`);
    }
  }

  /**
   * One long-lived watcher per key per client, shared by every local waiter: creating and
   * cancelling a watcher per wait is serialised on etcd3's watch stream and made hand-offs
   * slow under load. A waiter whose read is older than the shared watcher's start reads
   * the key again instead (it may have missed nothing, but cannot know).
   */
  private shared = new Map<string, SharedWatch>();

  /** The key's shared watcher; a new one starts after `revision`, or at etcd's next revision when none is given. */
  private sharedWatch(key: string, revision?: number): SharedWatch {
    let sw = this.shared.get(key);
    if (!sw) {
      const builder = this.client.watch().key(key);
      const watcher = (revision === undefined ? builder : builder.startRevision(String(revision + 1))).watcher();
      const created: SharedWatch = { watcher, baseline: revision ?? Number.POSITIVE_INFINITY, last: undefined, listeners: new Set(), idle: undefined, dead: false };
      // Started at etcd's next revision: it has seen everything after the revision it was created at.
      if (revision === undefined) watcher.once('connected', (res: { header?: { revision?: string } }) => (created.baseline = Number(res.header?.revision ?? Number.POSITIVE_INFINITY)));
      const emit = (v: VersionedValue) => {
        if (!created.last || v.revision > created.last.revision) created.last = v;
        for (const l of [...created.listeners]) l(v);
      };
      watcher.on('put', (kv) => emit(versioned(kv, kv.mod_revision)));
      watcher.on('delete', (kv) => emit({ value: undefined, version: 0, revision: Number(kv.mod_revision ?? 0) }));
      // A broken stream is not fatal (etcd3 reconnects from the last revision it saw: its
      // 'disconnected'), but 'error' is etcd cancelling the watch (its start compacted away, a
      // permission gone): etcd3 has dropped it. Its waiters look again now, as at their
      // safety wake, and the next wait makes a new one.
      watcher.on('error', () => {
        created.dead = true;
        if (this.shared.get(key) === created) this.shared.delete(key);
        if (created.idle) clearTimeout(created.idle);
        for (const l of [...created.listeners]) l(undefined);
      });
      this.shared.set(key, created);
      sw = created;
      this.sent('watch');
    }
    if (sw.idle) clearTimeout(sw.idle);
    sw.idle = undefined;
    return sw;
  }

  private release(key: string, sw: SharedWatch): void {
    if (sw.dead || sw.listeners.size > 0 || sw.idle) return;
    sw.idle = setTimeout(() => {
      if (sw.listeners.size > 0) return;
      if (this.shared.get(key) === sw) this.shared.delete(key);
      sw.watcher.cancel().catch(() => undefined);
    }, sharedWatchIdleMs);
    sw.idle.unref?.();
  }

  async watchFromNow(key: string, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const sw = this.sharedWatch(key);
    try {
      // etcd's answer that the watch is in place ('error' rejects: etcd refused it).
      if (sw.baseline === Number.POSITIVE_INFINITY) await once(sw.watcher, 'connected', { signal: AbortSignal.timeout(this.callTimeoutMs) });
    } catch (error) {
      // once() says only "The operation was aborted" when the deadline ends the wait: say which.
      const late = (error as Error).name === 'AbortError' ? new Error(`etcd did not start the watch within ${this.callTimeoutMs} ms`, { cause: error }) : error;
      throw etcdError(late, `watching ${key}`);
    } finally {
      this.release(key, sw);
    }
  }

  async waitForChange(key: string, revision: number, timeoutMs: number, signal?: AbortSignal): Promise<VersionedValue | undefined> {
    signal?.throwIfAborted();
    const sw = this.sharedWatch(key, revision);
    if (revision < sw.baseline) {
      this.release(key, sw);
      return this.get(key);
    }
    if (sw.last && sw.last.revision > revision) {
      this.release(key, sw);
      return sw.last;
    }
    return new Promise<VersionedValue | undefined>((resolve, reject) => {
      const finish = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        sw.listeners.delete(listener);
        this.release(key, sw);
      };
      const listener = (v: VersionedValue | undefined) => {
        if (v === undefined) {
          finish();
          resolve(undefined);
          return;
        }
        if (v.revision <= revision) return; // the stream catching up to what we already read
        finish();
        resolve(sw.last ?? v);
      };
      const onAbort = () => {
        finish();
        reject(signal?.reason ?? new Error('aborted'));
      };
      const timer = setTimeout(() => {
        finish();
        resolve(undefined);
      }, timeoutMs);
      sw.listeners.add(listener);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  async remove(key: string): Promise<void> {
    this.sent('commit');
    try {
      await this.client.delete().key(key).exec();
    } catch (error) {
      throw etcdError(error, `deleting ${key}`);
    }
  }

  async close(): Promise<void> {
    for (const sw of this.shared.values()) {
      if (sw.idle) clearTimeout(sw.idle);
      sw.watcher.cancel().catch(() => undefined);
    }
    this.shared.clear();
    await this.lease?.revoke().catch(() => undefined);
    if (this.ownsClient) this.client.close();
  }
}
