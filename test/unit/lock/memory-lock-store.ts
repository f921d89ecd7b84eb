/**
 * The unit tests' LockStore: in memory, with etcd's version and revision rules, recording
 * every commit and the requests made by kind (so a test can bound a waiter's reads), and
 * able to fail the next N calls as etcd being down would.
 */
import { KeelError } from '../../../src/errors.js';
import type { CompareAndSwap, LockStore, VersionedValue } from '../../../src/lock/lock-store.js';

/** In-memory store with etcd's version and revision rules, for unit tests. */
export class MemoryLockStore implements LockStore {
  private data = new Map<string, { value: string; version: number; modRevision: number; createRevision: number }>();
  private revision = 1;
  /** Revision at which each deleted key went, so a wait that starts late still sees the deletion. */
  private tombstones = new Map<string, number>();
  private waiters = new Set<{ key: string; wake: () => void }>();
  /** Requests made so far, by kind. */
  readonly requestCounts = { get: 0, list: 0, commit: 0, watch: 0, queue: 0 };
  /** Every committed change, in order, for assertions. */
  readonly commits: CompareAndSwap[] = [];
  /** Set to make the next N calls fail as etcd being down would. */
  failNext = 0;

  private maybeFail(): void {
    if (this.failNext > 0) {
      this.failNext--;
      throw new KeelError('unavailable', 'injected: etcd did not answer; retrying may help');
    }
  }

  async get(key: string): Promise<VersionedValue> {
    this.requestCounts.get++;
    this.maybeFail();
    const entry = this.data.get(key);
    return { value: entry?.value, version: entry?.version ?? 0, revision: this.revision };
  }

  async list(prefix: string): Promise<Map<string, string>> {
    this.requestCounts.list++;
    this.maybeFail();
    return new Map([...this.data].filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k, v.value]));
  }

  async commit(change: CompareAndSwap): Promise<boolean> {
    this.requestCounts.commit++;
    this.maybeFail();
    if ((this.data.get(change.key)?.version ?? 0) !== change.expectedVersion) return false;
    this.revision++;
    const touched = [change.key, ...Object.keys(change.puts ?? {}), ...(change.deletes ?? [])];
    for (const [k, v] of [[change.key, change.value] as const, ...Object.entries(change.puts ?? {})]) this.set(k, v);
    for (const k of change.deletes ?? []) this.deleteKey(k);
    this.commits.push(change);
    for (const w of [...this.waiters]) if (touched.includes(w.key)) w.wake();
    return true;
  }

  private set(key: string, value: string): void {
    const old = this.data.get(key);
    this.data.set(key, { value, version: (old?.version ?? 0) + 1, modRevision: this.revision, createRevision: old?.createRevision ?? this.revision });
  }

  private deleteKey(key: string): void {
    if (!this.data.delete(key)) return;
    this.tombstones.set(key, this.revision);
    for (const w of [...this.waiters]) if (w.key === key) w.wake();
  }

  /** Writes a key as another client would (no compare), waking watchers. */
  async put(key: string, value: string): Promise<void> {
    this.revision++;
    this.set(key, value);
    for (const w of [...this.waiters]) if (w.key === key) w.wake();
  }

  async register(key: string, value: string): Promise<number> {
    this.requestCounts.commit++;
    this.maybeFail();
    if (!this.data.has(key)) await this.put(key, value);
    return this.data.get(key)!.createRevision;
  }

  async ahead(prefix: string, createRevision: number, limit: number): Promise<{ keys: string[]; revision: number }> {
    this.requestCounts.queue++;
    this.maybeFail();
    const keys = [...this.data]
      .filter(([k, v]) => k.startsWith(prefix) && v.createRevision <= createRevision)
      .sort((a, b) => b[1].createRevision - a[1].createRevision)
      .slice(0, limit)
      .map(([k]) => k);
    return { keys, revision: this.revision };
  }

  /** Every key under `prefix`, oldest first (for assertions). */
  queueOf(prefix: string): string[] {
    return [...this.data].filter(([k]) => k.startsWith(prefix)).sort((a, b) => a[1].createRevision - b[1].createRevision).map(([k]) => k);
  }

  async remove(key: string): Promise<void> {
    this.requestCounts.commit++;
    this.maybeFail();
    this.revision++;
    this.deleteKey(key);
  }

  async waitForChange(key: string, revision: number, timeoutMs: number, signal?: AbortSignal): Promise<VersionedValue | undefined> {
    this.requestCounts.watch++;
    const now = (): VersionedValue => {
      const entry = this.data.get(key);
      return { value: entry?.value, version: entry?.version ?? 0, revision: this.revision };
    };
    if (Math.max(this.data.get(key)?.modRevision ?? 0, this.data.has(key) ? 0 : (this.tombstones.get(key) ?? 0)) > revision) return now();
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
    return timedOut ? undefined : now();
  }

  async close(): Promise<void> {
    for (const w of [...this.waiters]) w.wake();
  }
}
