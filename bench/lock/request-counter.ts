// Counts the etcd requests lock stores send, by kind, for the benchmark's requests per
// waiting agent per second: handed to EtcdLockStore as its observer, so the count is what
// reaches etcd (one shared watcher per key counts once, however many waiters use it).
import type { EtcdRequestKind, EtcdStoreObserver } from '../../src/lock/etcd-store.js';

export class RequestCounter implements EtcdStoreObserver {
  readonly counts: Record<EtcdRequestKind, number> = { get: 0, list: 0, commit: 0, watch: 0, queue: 0 };

  onRequest(kind: EtcdRequestKind): void {
    this.counts[kind]++;
  }

  /** Every request counted so far. */
  total(): number {
    return Object.values(this.counts).reduce((a, b) => a + b, 0);
  }
}
