/**
 * The minimal key-value interface the lock needs, and nothing more: a read with the key's
 * version, one compare-and-swap commit, a prefix read, and a wait for the next change. The
 * etcd adapter (etcd-store.ts) is the real implementation; the unit tests' recording
 * double (test/unit/lock/memory-lock-store.ts) keeps etcd's version and revision rules, and
 * the same lock code runs against real etcd in the integration tests.
 */

/** A key's value with its etcd version (0 = the key does not exist) and the store revision read at. */
export interface VersionedValue {
  value: string | undefined;
  version: number;
  /** Store revision of this read; a watch from `revision + 1` sees every later change. */
  revision: number;
}

/** One atomic change guarded by the version of `key`. */
export interface CompareAndSwap {
  key: string;
  /** The version read before; 0 means "create only if it does not exist". */
  expectedVersion: number;
  value: string;
  /** Other keys written or deleted in the same transaction (keel's hold-time keys). */
  puts?: Record<string, string>;
  deletes?: string[];
}

export interface LockStore {
  get(key: string, signal?: AbortSignal): Promise<VersionedValue>;
  /** Keys and values under a prefix. */
  list(prefix: string, signal?: AbortSignal): Promise<Map<string, string>>;
  /** True when the compare held and every write happened; false when the version moved. */
  commit(change: CompareAndSwap, signal?: AbortSignal): Promise<boolean>;
  /**
   * Resolves with the key's next value after `revision` (at once if it already changed),
   * carried by the watch event itself so a waiter need not read again to see the semaphore
   * is still full; resolves undefined when `timeoutMs` passes (a safety net, not the
   * mechanism); rejects when `signal` aborts.
   */
  waitForChange(key: string, revision: number, timeoutMs: number, signal?: AbortSignal): Promise<VersionedValue | undefined>;
  /**
   * Puts `key` bound to this client's lease, so a waiter that dies leaves the queue by
   * itself (the lease expires); a key that already exists keeps its place. Resolves with
   * the key's create revision: its place in the queue.
   */
  register(key: string, value: string, signal?: AbortSignal): Promise<number>;
  /**
   * Up to `limit` keys under `prefix` created at or before `createRevision`, newest first:
   * one's own queue key and the waiters just ahead of it, read in O(limit) however long
   * the queue; and the revision read at.
   */
  ahead(prefix: string, createRevision: number, limit: number, signal?: AbortSignal): Promise<{ keys: string[]; revision: number }>;
  /** Deletes a key (no compare). */
  remove(key: string, signal?: AbortSignal): Promise<void>;
  close(): Promise<void>;
}
