/**
 * Publishing node records, the etcd side of "a dead node stays visible for a day". Each
 * write puts the record twice in one transaction: under `nodes/` bound to a short lease that
 * etcd3 keeps alive (the node disappears when it stops), and under `lost/` on a 24 h lease
 * that is never kept alive. The node writes its own lost copy, ahead of time, because nobody
 * else is sure to be there when its lease expires: a watcher would have to be running at
 * that moment, and etcd deletes the value with the key. `status` shows as lost what is in
 * `lost/` but not in `nodes/`.
 *
 * The 24 h lease is replaced hourly (the records are rewritten onto a fresh one), so a lost
 * copy always outlives the node's last sign of life by 23 to 24 hours, however long the
 * node ran without a state change. One node lease per publisher, kept alive by the client's
 * lease keeper (lease-keeper.ts): every publisher of a process that shares one client (the
 * benchmark runs thousands of agents per process) sends its keep-alives on one stream.
 */
import type { Etcd3 } from 'etcd3';
import type { Logger } from '../log.js';
import { etcdError } from '../lock/etcd-connection.js';
import { leaseKeeperFor, type KeptLease } from '../lock/lease-keeper.js';
import { attentionKey, lostKey, nodeKey } from './fleet-keys.js';
import { attentionReason } from './node-attention.js';
import { formatNodeRecord, type NodeRecord } from './node-record.js';

export interface NodePublisherOptions {
  /** TTL of the lease binding `nodes/` keys; renewed every third of it. Default 60 s. */
  nodeLeaseSeconds?: number;
  /** How long a lost copy lives. Default 24 h. */
  lostLeaseSeconds?: number;
  /** How often the lost copies move to a fresh lease. Default 1 h. */
  lostRefreshMs?: number;
  now?: () => number;
  log?: Logger;
}

/** The lost copies' lease of each client, by TTL (see `leaseForLost`). */
const lostLeases = new WeakMap<Etcd3, Map<number, { id: Promise<string>; grantedMs: number }>>();

export class NodePublisher {
  private nodeLease: KeptLease | undefined;
  /** Every record this publisher keeps alive, by node key, to write again when the lease is lost. */
  private readonly published = new Map<string, { group: string; record: NodeRecord }>();
  private readonly refresh: NodeJS.Timeout;
  private readonly now: () => number;

  constructor(
    private readonly client: Etcd3,
    private readonly options: NodePublisherOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.refresh = setInterval(() => void this.republish('refreshing the lost copies'), this.lostRefreshMs());
    this.refresh.unref?.();
  }

  private lostRefreshMs(): number {
    return this.options.lostRefreshMs ?? 3_600_000;
  }

  /** The id of the lease the node records ride on (granted on first use, replaced if lost). */
  leaseId(): Promise<string> {
    return this.leaseForNodes().grant();
  }

  private leaseForNodes(): KeptLease {
    if (this.nodeLease) return this.nodeLease;
    const lease = leaseKeeperFor(this.client).lease(this.options.nodeLeaseSeconds ?? 60);
    lease.onLost((error) => {
      if (this.nodeLease !== lease) return;
      this.nodeLease = undefined;
      // etcd dropped the node keys with the lease: write them again on a new one.
      this.options.log?.warning(`fleet: the lease of the node records was lost (${error.message}); writing them again in ${this.retryMs} ms`);
      this.republishLater();
    });
    this.nodeLease = lease;
    return lease;
  }

  /**
   * The lease of the lost copies: never kept alive and never revoked, it ends on its own a
   * day after its grant. One per client and TTL, shared by every publisher on that client
   * (the benchmark's thousands of agents per process make one grant, not one each); any
   * publisher replaces it once it is older than its refresh period.
   */
  private leaseForLost(): Promise<string> {
    const ttlSeconds = this.options.lostLeaseSeconds ?? 86_400;
    let byTtl = lostLeases.get(this.client);
    if (!byTtl) lostLeases.set(this.client, (byTtl = new Map()));
    const current = byTtl.get(ttlSeconds);
    if (current && this.now() - current.grantedMs < this.lostRefreshMs()) return current.id;
    const lease = this.client.lease(ttlSeconds, { autoKeepAlive: false });
    const granted = { id: lease.grant().finally(() => lease.release()), grantedMs: this.now() };
    byTtl.set(ttlSeconds, granted);
    // A failed grant is not kept: the next write asks again.
    granted.id.catch(() => byTtl.get(ttlSeconds) === granted && byTtl.delete(ttlSeconds));
    return granted.id;
  }

  /**
   * Writes the node's record under `nodes/` (its lease) and `lost/` (the day-long lease) in
   * one transaction, and under `attention/` (its lease) while it is failed or rebooting,
   * deleting that copy when it is not.
   */
  async publish(group: string, record: NodeRecord): Promise<void> {
    // Kept before the write: if it fails with the lease, the retry writes this, the latest.
    this.published.set(nodeKey(group, record.machineId), { group, record });
    await this.write(nodeKey(group, record.machineId));
  }

  /** The writes of this publisher, one at a time: see `write`. */
  private writes: Promise<void> = Promise.resolve();

  /**
   * Writes the newest record kept for `key`, after every write asked for before it. A rewrite
   * after a lost lease and a new state's write overlapped, and the older record could land
   * last (the leader-kill test saw a node stay `booted` in etcd while it was `staged`); in
   * order, and reading the record when it goes out, the last write is always the newest.
   */
  private write(key: string): Promise<void> {
    return this.inLine(() => this.writeNow(key));
  }

  /** Runs `step` after every write asked for before it. */
  private inLine(step: () => Promise<void>): Promise<void> {
    const done = this.writes.then(step);
    this.writes = done.catch(() => undefined);
    return done;
  }

  private async writeNow(key: string): Promise<void> {
    const kept = this.published.get(key);
    if (!kept) return; // withdrawn since
    const { group, record } = kept;
    const value = formatNodeRecord(record);
    try {
      const [nodeLeaseId, lostLeaseId] = await Promise.all([this.leaseForNodes().grant(), this.leaseForLost()]);
      // A transaction with no comparison: both copies or neither.
      const put = (k: string, lease: string) => ({ request_put: { key: Buffer.from(k), value: Buffer.from(value), lease } });
      const attention = attentionKey(group, record.machineId);
      const mark = attentionReason(record) ? put(attention, nodeLeaseId) : { request_delete_range: { key: Buffer.from(attention) } };
      await this.client.kv.txn({ compare: [], success: [put(key, nodeLeaseId), put(lostKey(group, record.machineId), lostLeaseId), mark], failure: [] });
    } catch (error) {
      throw etcdError(error, `publishing ${key}`);
    }
  }

  /** Stops keeping the node's record: deletes it from `nodes/` (and `attention/`) and leaves the lost copy for its day. */
  async withdraw(group: string, machineId: string): Promise<void> {
    const key = nodeKey(group, machineId);
    this.published.delete(key);
    // In line with the writes, so none asked for before lands after the delete.
    await this.inLine(async () => {
      try {
        await this.client.kv.txn({ compare: [], success: [key, attentionKey(group, machineId)].map((k) => ({ request_delete_range: { key: Buffer.from(k) } })), failure: [] });
      } catch (error) {
        throw etcdError(error, `deleting ${key}`);
      }
    });
  }

  /** Delay before writing the records again after a lost lease; doubles while etcd stays away. */
  private retryMs = 1000;
  private retry: NodeJS.Timeout | undefined;

  /**
   * A lease is lost when etcd is unreachable too, and a new lease's failed grant is lost at
   * once: writing again at once would spin, so wait, longer each time, until one succeeds.
   */
  private republishLater(): void {
    if (this.retry || this.closed) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      void this.republish('after a lost lease').then((ok) => {
        this.retryMs = ok ? 1000 : Math.min(30_000, this.retryMs * 2);
      });
    }, this.retryMs);
    this.retry.unref?.();
  }

  /** Writes every kept record again, each as it is when its write goes out; true when all were written. */
  private async republish(why: string): Promise<boolean> {
    let ok = true;
    for (const key of [...this.published.keys()]) {
      try {
        await this.write(key);
      } catch (error) {
        ok = false;
        this.options.log?.warning(`fleet: could not write ${key} ${why}: ${(error as Error).message}; trying again later`);
      }
    }
    return ok;
  }

  /** Ends the keep-alives; the node keys go when the lease expires (or at once with `revoke`). */
  private closed = false;

  async close(revoke = false): Promise<void> {
    this.closed = true;
    clearInterval(this.refresh);
    clearTimeout(this.retry);
    const lease = this.nodeLease;
    this.nodeLease = undefined;
    if (!lease) return;
    if (revoke) await lease.revoke().catch(() => undefined);
    else lease.release();
  }
}
