/**
 * The unit tests' LockStore: in memory, with etcd's version and revision rules, recording
 * every commit and the requests made by kind (so a test can bound a waiter's reads), and
 * able to fail the next N calls as etcd being down would. Leases are not modelled: a test
 * ends a queued node's lease with `expire(key)`.
 */
import { KeelError } from '../../../src/errors.js';
import { maxTxnOps, type CompareAndSwap, type GrantConfirmation, type LockStore, type LockView, type ReleaseMark, type VersionedValue, type ViewKeys } from '../../../src/lock/lock-store.js';
import type { Rider } from '../../../src/lock/reboot-lock.js';

interface Entry {
  value: string;
  version: number;
  modRevision: number;
  createRevision: number;
}

/** In-memory store with etcd's version and revision rules, for unit tests. */
export class MemoryLockStore implements LockStore {
  private data = new Map<string, Entry>();
  private revision = 1;
  /** Revision at which each deleted key went, so a wait that starts late still sees the deletion. */
  private tombstones = new Map<string, number>();
  private waiters = new Set<{ key: string; wake: () => void }>();
  /** Requests made so far, by kind. */
  readonly requestCounts = { get: 0, list: 0, commit: 0, watch: 0, queue: 0 };
  /** Every committed change, in order, for assertions. */
  readonly commits: CompareAndSwap[] = [];
  /** The queue bounds of every look, in order, and whether it wrote a release mark (a write transaction). */
  readonly looks: Array<{ from?: string; to?: string; marksFrom?: string; mark: boolean }> = [];
  /** Set to make the next N calls fail as etcd being down would. */
  failNext = 0;

  private maybeFail(): void {
    if (this.failNext > 0) {
      this.failNext--;
      throw new KeelError('unavailable', 'injected: etcd did not answer; retrying may help');
    }
  }

  private read(key: string): VersionedValue {
    const entry = this.data.get(key);
    return { value: entry?.value, version: entry?.version ?? 0, revision: this.revision };
  }

  async get(key: string): Promise<VersionedValue> {
    this.requestCounts.get++;
    this.maybeFail();
    return this.read(key);
  }

  async list(prefix: string, _signal?: AbortSignal, from = prefix): Promise<Map<string, string>> {
    this.requestCounts.list++;
    this.maybeFail();
    return new Map([...this.data].filter(([k]) => k.startsWith(prefix) && k >= from).map(([k, v]) => [k, v.value]));
  }

  /** Keys under `prefix` in key order, as etcd's range returns them: from `from` (inclusive) and below `below`. */
  private range(prefix: string, below?: string, from = prefix): [string, Entry][] {
    return [...this.data].filter(([k]) => k.startsWith(prefix) && k >= from && (below === undefined || k < below)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }

  private look(keys: ViewKeys, mark = false): LockView {
    this.looks.push({ ...(keys.queueFrom !== undefined ? { from: keys.queueFrom } : {}), ...(keys.queueTo !== undefined ? { to: keys.queueTo } : {}), ...(keys.releasedFrom !== undefined ? { marksFrom: keys.releasedFrom } : {}), mark });
    const queue = this.range(keys.queuePrefix, undefined, keys.queueFrom)
      .filter(([k]) => keys.queueTo === undefined || k <= keys.queueTo)
      .slice(0, keys.queueLimit)
      .map(([k, v]) => ({ key: k, value: v.value, modRevision: v.modRevision }));
    return { semaphore: this.read(keys.semaphore), queue, released: this.range(keys.releasedPrefix, undefined, keys.releasedFrom).map(([k]) => k), window: this.read(keys.window) };
  }

  async view(keys: ViewKeys, _signal?: AbortSignal, mark?: ReleaseMark): Promise<LockView> {
    this.requestCounts.get++;
    this.maybeFail();
    if (mark) {
      // As etcd does, every rider's compares are read before any write of the transaction.
      const writes: Array<[string, string]> = [[mark.key, mark.value], ...(mark.riders ?? []).filter((r) => r.absent.every((k) => !this.data.has(k))).flatMap((r) => Object.entries(r.puts))];
      this.revision++;
      for (const [k, v] of writes) this.set(k, v);
      this.wake(writes.map(([k]) => k));
    }
    return this.look(keys, mark !== undefined);
  }

  async readKeys(keys: string[]): Promise<Map<string, { value: string; modRevision: number }>> {
    this.requestCounts.get++;
    this.maybeFail();
    return new Map(keys.flatMap((k) => (this.data.has(k) ? [[k, { value: this.data.get(k)!.value, modRevision: this.data.get(k)!.modRevision }] as const] : [])));
  }

  async commit(change: CompareAndSwap): Promise<boolean> {
    this.requestCounts.commit++;
    this.maybeFail();
    return this.apply(change);
  }

  async swap(change: CompareAndSwap, keys: ViewKeys): Promise<LockView | undefined> {
    this.requestCounts.commit++;
    this.maybeFail();
    return this.apply(change) ? undefined : this.look(keys);
  }

  private apply(change: CompareAndSwap): boolean {
    // etcd refuses a transaction of more than --max-txn-ops writes or compares (128 by default).
    const writes = 1 + Object.keys(change.puts ?? {}).length + Object.keys(change.rewrites ?? {}).length + (change.deletes ?? []).length;
    const compares = 1 + Object.keys(change.expect ?? {}).length;
    if (writes > maxTxnOps || compares > maxTxnOps) throw new KeelError('internal', `etcd refused writing ${change.key}: etcdserver: too many operations in txn request`);
    if ((this.data.get(change.key)?.version ?? 0) !== change.expectedVersion) return false;
    for (const [k, rev] of Object.entries(change.expect ?? {})) if ((this.data.get(k)?.modRevision ?? 0) !== rev) return false;
    this.revision++;
    const touched = [change.key, ...Object.keys(change.puts ?? {}), ...Object.keys(change.rewrites ?? {}), ...(change.deletes ?? [])];
    for (const [k, v] of [[change.key, change.value] as const, ...Object.entries(change.puts ?? {}), ...Object.entries(change.rewrites ?? {})]) this.set(k, v);
    for (const k of change.deletes ?? []) this.deleteKey(k);
    this.commits.push(change);
    this.wake(touched);
    return true;
  }

  private wake(keys: string[]): void {
    for (const w of [...this.waiters]) if (keys.includes(w.key)) w.wake();
  }

  private set(key: string, value: string): void {
    const old = this.data.get(key);
    this.data.set(key, { value, version: (old?.version ?? 0) + 1, modRevision: this.revision, createRevision: old?.createRevision ?? this.revision });
  }

  private deleteKey(key: string): void {
    if (!this.data.delete(key)) return;
    this.tombstones.set(key, this.revision);
  }

  /** Writes a key as another client would (no compare), waking watchers. */
  async put(key: string, value: string): Promise<void> {
    this.revision++;
    this.set(key, value);
    this.wake([key]);
  }

  /** Deletes a key as its lease expiring would. */
  async expire(key: string): Promise<void> {
    this.revision++;
    this.deleteKey(key);
    this.wake([key]);
  }

  async enqueue(key: string, value: string, keys: ViewKeys): Promise<{ revision: number; semaphore: VersionedValue; window: VersionedValue }> {
    this.requestCounts.queue++;
    this.maybeFail();
    if (!this.data.has(key)) await this.put(key, value);
    return { revision: this.revision, semaphore: this.read(keys.semaphore), window: this.read(keys.window) };
  }

  async position(key: string, from: string): Promise<number> {
    this.requestCounts.queue++;
    this.maybeFail();
    return [...this.data.keys()].filter((k) => k >= from && k < key).length;
  }

  async queueKeys(queuePrefix: string, from: string, limit: number): Promise<string[]> {
    this.requestCounts.queue++;
    this.maybeFail();
    return this.range(queuePrefix, undefined, from)
      .slice(0, limit)
      .map(([k]) => k);
  }

  async confirm({ queueKey, holderKey, holderModRevision, holderValue, rider }: GrantConfirmation): Promise<{ confirmed: boolean; rode: boolean }> {
    this.requestCounts.commit++;
    this.maybeFail();
    if ((this.data.get(holderKey)?.modRevision ?? 0) !== holderModRevision) return { confirmed: false, rode: false };
    this.revision++;
    this.deleteKey(queueKey);
    this.set(holderKey, holderValue);
    const rode = rider !== undefined && rider.absent.every((k) => !this.data.has(k));
    if (rode) for (const [k, v] of Object.entries(rider.puts)) this.set(k, v);
    this.wake([queueKey, holderKey, ...(rode ? Object.keys(rider.puts) : [])]);
    return { confirmed: true, rode };
  }

  /** Every key under `prefix`, in queue order (for assertions). */
  queueOf(prefix: string): string[] {
    return this.range(prefix).map(([k]) => k);
  }

  async remove(key: string): Promise<void> {
    this.requestCounts.commit++;
    this.maybeFail();
    this.revision++;
    this.deleteKey(key);
    this.wake([key]);
  }

  /** The change event after `revision`, as etcd's watch carries it: the value and the revision of that change. */
  private changedAfter(key: string, revision: number): VersionedValue | undefined {
    const entry = this.data.get(key);
    if (entry && entry.modRevision > revision) return { value: entry.value, version: entry.version, revision: entry.modRevision };
    const gone = this.tombstones.get(key);
    if (!entry && gone !== undefined && gone > revision) return { value: undefined, version: 0, revision: gone };
    return undefined;
  }

  /** Nothing to start: a wait here sees every change after any revision, with no catch-up. */
  async watchFromNow(): Promise<void> {}

  async waitForChange(key: string, revision: number, timeoutMs: number, signal?: AbortSignal): Promise<VersionedValue | undefined> {
    this.requestCounts.watch++;
    const already = this.changedAfter(key, revision);
    if (already) return already;
    let timedOut = false;
    await new Promise<void>((resolve, reject) => {
      const waiter = {
        key,
        wake: () => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        waiter.wake();
        reject(signal?.reason ?? new Error('aborted'));
      };
      const timer = setTimeout(() => {
        timedOut = true;
        waiter.wake();
      }, timeoutMs);
      this.waiters.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    return timedOut ? undefined : this.changedAfter(key, revision);
  }

  async close(): Promise<void> {
    for (const w of [...this.waiters]) w.wake();
  }
}
