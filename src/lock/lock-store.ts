/**
 * The minimal key-value interface the lock needs, and nothing more: reads with versions,
 * one compare-and-swap commit, the wait queue's reads and writes, and a wait for a key's
 * next change. The etcd adapter (etcd-store.ts) is the real implementation; the unit
 * tests' recording double (test/unit/lock/memory-lock-store.ts) keeps etcd's version and
 * revision rules, and the same lock code runs against real etcd in the integration tests.
 */
import type { Rider } from './reboot-lock.js';
import type { QueueEntry } from './wait-queue.js';

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
  /** Other keys written in the same transaction (keel's hold-time keys). */
  puts?: Record<string, string>;
  /** Keys whose value is replaced while they keep their lease (a queue key handed a slot). */
  rewrites?: Record<string, string>;
  deletes?: string[];
  /** Mod revisions other keys must still have for the change to hold (0: must not exist). */
  expect?: Record<string, number>;
}

/** Most operations of each kind (compares, writes) in one transaction: etcd's default `--max-txn-ops`. */
export const maxTxnOps = 128;

/** A release's mark, and the caller's writes that ride with it. */
export interface ReleaseMark {
  key: string;
  value: string;
  riders?: Rider[];
}

/** A grant's confirmation: see LockStore.confirm. */
export interface GrantConfirmation {
  queueKey: string;
  holderKey: string;
  holderModRevision: number;
  holderValue: string;
  rider?: Rider;
}

/** What one look at a group reads: its semaphore, the head of its queue, its release marks, its queue window. */
export interface ViewKeys {
  semaphore: string;
  queuePrefix: string;
  queueLimit: number;
  /** The queue keys read: from `queueFrom` (default the prefix) to `queueTo` inclusive (default the queue's end). */
  queueFrom?: string;
  queueTo?: string;
  releasedPrefix: string;
  /** The marks read: from this key (default the prefix) to the prefix's end. */
  releasedFrom?: string;
  /** The queue window's record (queue-window.ts). */
  window: string;
}

/** The semaphore, the head of the wait queue, the release marks and the queue window, read at one revision. */
export interface LockView {
  semaphore: VersionedValue;
  /** The first queue entries within the keys' bounds, in queue (key) order. */
  queue: QueueEntry[];
  /** Keys of the release marks not yet folded in (release-marks.ts). */
  released: string[];
  /** The queue window's record. */
  window: VersionedValue;
}

export interface LockStore {
  get(key: string, signal?: AbortSignal): Promise<VersionedValue>;
  /** Keys and values under a prefix (from the key `from` on, when given). */
  list(prefix: string, signal?: AbortSignal, from?: string): Promise<Map<string, string>>;
  /**
   * Reads the semaphore, up to `queueLimit` queue entries and the release marks, in one
   * request; with `mark`, writes it first in the same transaction (a release's mark and its
   * first look are one request), and its riders, each by its own condition.
   */
  view(keys: ViewKeys, signal?: AbortSignal, mark?: ReleaseMark): Promise<LockView>;
  /** Reads several keys, at one revision for each `maxTxnOps` of them in order; absent keys are missing from the map. */
  readKeys(keys: string[], signal?: AbortSignal): Promise<Map<string, { value: string; modRevision: number }>>;
  /** True when the compares held and every write happened; false when something moved. */
  commit(change: CompareAndSwap, signal?: AbortSignal): Promise<boolean>;
  /**
   * `commit`, answering undefined when it held and, when something moved, the view as it
   * is then, read in the same request (a lost swap goes on from it without another read).
   */
  swap(change: CompareAndSwap, keys: ViewKeys, signal?: AbortSignal): Promise<LockView | undefined>;
  /**
   * Puts the queue key `key` bound to this store's lease (create only: a key that exists
   * keeps its place), so a waiter that dies leaves the queue by itself. Resolves with the
   * revision after the put, and the semaphore and the queue window as they are once the key
   * is in: a slot freed before that is seen here, one freed after it is handed to the queue.
   * No range is read: every member would walk it in its apply loop.
   */
  enqueue(key: string, value: string, keys: ViewKeys, signal?: AbortSignal): Promise<{ revision: number; semaphore: VersionedValue; window: VersionedValue }>;
  /** How many queue keys sort from `from` up to `key`, `key` excluded (a read alone, walked by one member). */
  position(key: string, from: string, signal?: AbortSignal): Promise<number>;
  /** Up to `limit` queue keys from `from` in key order, without their values (a read alone). */
  queueKeys(queuePrefix: string, from: string, limit: number, signal?: AbortSignal): Promise<string[]>;
  /**
   * Confirms a grant: deletes the queue key and writes the holder key's confirmed value,
   * if the holder key still has `holderModRevision` (the grant was not taken back); the
   * `rider`'s writes go in the same transaction when none of its absent keys exists.
   */
  confirm(grant: GrantConfirmation, signal?: AbortSignal): Promise<{ confirmed: boolean; rode: boolean }>;
  /**
   * Resolves with the key's next value after `revision` (at once if it already changed),
   * carried by the watch event itself, with the revision of that change; resolves
   * undefined when `timeoutMs` passes (a safety net, not the mechanism); rejects when
   * `signal` aborts.
   */
  waitForChange(key: string, revision: number, timeoutMs: number, signal?: AbortSignal): Promise<VersionedValue | undefined>;
  /**
   * Starts watching `key` at the store's next revision and resolves once the watch is in
   * place, so that a waitForChange on it after any later read needs no catch-up: etcd
   * replays a watch begun at a passed revision only every 100 ms, a batch at a time, and
   * that was most of a slot's first hand-off when many nodes joined at once.
   */
  watchFromNow(key: string, signal?: AbortSignal): Promise<void>;
  /** Deletes a key (no compare). */
  remove(key: string, signal?: AbortSignal): Promise<void>;
  close(): Promise<void>;
}
