/**
 * The reboot lock over any LockStore: get, change the pure semaphore, compare-and-swap,
 * and on a lost race read again. Waiting watches, never polls: a waiter joins keel's queue
 * (a lease-bound sibling key, ordered by creation); the first total_slots waiters watch
 * the semaphore key (the watch event carries the new value, so they do not even read while
 * it stays full) and the rest each watch the waiter total_slots places ahead of them, so a
 * release wakes a handful of nodes instead of the whole fleet. Jittered backoff happens
 * only after errors. airlock nodes do not queue; they simply compete for free slots. Every step is idempotent for the same id, so a call whose
 * reply was lost (a leader killed mid-commit) is simply repeated: a re-read shows whether
 * the write landed.
 */
import { KeelError } from '../errors.js';
import type { Logger } from '../log.js';
import { jitteredDelayMs, sleep } from '../backoff.js';
import { expiredHolders } from './max-hold.js';
import { holderIdOf, holderKey, holdersPrefix, semaphoreKey, checkGroup, waiterKey, waitersPrefix } from './group-keys.js';
import type { LockStore, VersionedValue } from './lock-store.js';
import type { AcquireOptions, LockHolder, LockStatus, RebootLock } from './reboot-lock.js';
import { emptySemaphore, formatSemaphore, fullMessage, giveSlot, parseSemaphore, setTotalSlots, takeSlot, type Semaphore } from './semaphore.js';

export interface SemaphoreLockOptions {
  store: LockStore;
  group: string;
  /** Slots of a semaphore created by the first taker (airlock's default is 1 too). */
  defaultSlots?: number;
  /** Release holders automatically after this long; off when undefined (see max-hold.ts). */
  maxHoldMs?: number;
  /** How long an operation that does not wait for a slot keeps retrying etcd. Default 30 s. */
  operationTimeoutMs?: number;
  /** A waiter re-reads at least this often even without a watch event (safety net). Default 10 s. */
  safetyWakeMs?: number;
  now?: () => number;
  random?: () => number;
  log?: Logger;
}

/** The etcd (or any LockStore) reboot lock. */
export class SemaphoreLock implements RebootLock {
  readonly group: string;
  private readonly key: string;
  private readonly now: () => number;
  private readonly random: () => number;

  constructor(private readonly options: SemaphoreLockOptions) {
    this.group = checkGroup(options.group);
    this.key = semaphoreKey(this.group);
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
  }

  private decode(state: VersionedValue): Semaphore {
    return state.value === undefined ? emptySemaphore(this.options.defaultSlots ?? 1) : parseSemaphore(state.value, this.key);
  }

  /** Runs `step` until it returns a value, retrying 'unavailable' errors with backoff until the deadline or the signal. */
  private async retrying<T>(what: string, signal: AbortSignal | undefined, deadlineMs: number, step: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await step();
      } catch (error) {
        if (signal?.aborted) throw error instanceof KeelError ? error : abortError(what, signal);
        if (!(error instanceof KeelError) || error.kind !== 'unavailable') throw error;
        if (this.now() >= deadlineMs) throw new KeelError('unavailable', `${what}: gave up after ${attempt + 1} attempts: ${error.message}`, { cause: error });
        this.options.log?.debug(`${what}: ${error.message}; retrying`);
        try {
          await sleep(jitteredDelayMs(attempt, this.random, { initialDelayMs: 25, maxDelayMs: 1000 }), signal);
        } catch {
          throw abortError(what, signal);
        }
      }
    }
  }

  private deadline(): number {
    return this.now() + (this.options.operationTimeoutMs ?? 30_000);
  }

  async acquire(id: string, options: AcquireOptions = {}): Promise<void> {
    const wait = options.wait ?? true;
    const signal = options.signal;
    const what = `taking a slot in group '${this.group}' for ${id}`;
    const store = this.options.store;
    const myKey = waiterKey(this.group, id);
    let state: VersionedValue | undefined;
    let lastHolders: string[] = [];
    let registered = false;
    /** Our key's create revision: our place in the wait queue. */
    let place = 0;
    /** Waiters ahead of us once we are among the first total_slots (only ever decreases). */
    let headIndex: number | undefined;
    let taken = false;
    // With wait the deadline is the signal's; without, the operation timeout.
    const deadline = wait ? Number.POSITIVE_INFINITY : this.deadline();
    try {
      await this.retrying(what, signal, deadline, async () => {
        for (;;) {
          if (signal?.aborted) throw abortError(what, signal, lastHolders);
          const current = state ?? (await store.get(this.key, signal));
          state = undefined;
          const semaphore = this.decode(current);
          const free = semaphore.totalSlots - semaphore.holders.length;
          // Queued waiters try only in queue order: a head whose place is within the free
          // slots (or when full, to let max-hold expire holders); everyone else waits.
          const mayTry = !registered || semaphore.holders.includes(id) || (headIndex !== undefined && (free <= 0 || headIndex < free));
          if (mayTry) {
            const attempt = await this.attempt(id, current, registered ? [myKey] : [], signal);
            if (attempt.kind === 'taken') {
              taken = true;
              return;
            }
            if (attempt.kind === 'full') lastHolders = attempt.holders;
            if (!wait) {
              if (attempt.kind === 'raced') continue;
              throw new KeelError('conflict', `${fullMessage(this.group, semaphore.totalSlots, lastHolders)}; not waiting (use --wait to wait for a slot)`);
            }
            if (attempt.kind === 'raced' && registered) continue;
          }
          // Lost a race or found it full: queue up (once) instead of hammering the key.
          if (!registered) {
            place = await store.register(myKey, id, signal);
            registered = true;
          }
          if (semaphore.totalSlots > 0 && (headIndex === undefined || (free > 0 && headIndex >= free))) {
            const read = await store.ahead(waitersPrefix(this.group), place, semaphore.totalSlots + 1, signal);
            if (read.keys[0] !== myKey) {
              // Our key went with an expired lease (a partition): queue again.
              registered = false;
              headIndex = undefined;
              continue;
            }
            const ahead = read.keys.slice(1);
            if (ahead.length >= semaphore.totalSlots) {
              // Not yet among the first total_slots: wait for the waiter total_slots ahead to move.
              await store.waitForChange(ahead[semaphore.totalSlots - 1]!, read.revision, this.options.safetyWakeMs ?? 10_000, signal);
              continue;
            }
            headIndex = ahead.length;
            if (headIndex < free) {
              state = current;
              continue;
            }
          }
          state = await store.waitForChange(this.key, current.revision, this.options.safetyWakeMs ?? 10_000, signal);
        }
      });
    } catch (error) {
      if (signal?.aborted) throw abortError(what, signal, lastHolders);
      throw error;
    } finally {
      if (registered && !taken) await store.remove(myKey).catch(() => undefined);
    }
  }

  /** One read-change-swap step of acquire: taken, lost the race, or full (with holders). */
  private async attempt(
    id: string,
    current: VersionedValue,
    alsoDelete: string[],
    signal?: AbortSignal,
  ): Promise<{ kind: 'taken' } | { kind: 'raced' } | { kind: 'full'; holders: string[]; totalSlots: number }> {
    const semaphore = this.decode(current);
    let taken = takeSlot(semaphore, id);
    let deletes = [...alsoDelete];
    if (!taken.ok && this.options.maxHoldMs !== undefined) {
      const expired = expiredHolders(await this.holdersWithTimes(semaphore.holders, signal), this.now(), this.options.maxHoldMs);
      if (expired.length > 0) {
        this.options.log?.warning(`group '${this.group}': releasing ${expired.join(', ')}, held longer than the maximum hold time`);
        const freed = expired.reduce((s, h) => giveSlot(s, h).semaphore, semaphore);
        taken = takeSlot(freed, id);
        deletes = [...deletes, ...expired.map((h) => holderKey(this.group, h))];
      }
    }
    if (!taken.ok) return { kind: 'full', holders: taken.holders, totalSlots: taken.totalSlots };
    if (!taken.changed) {
      if (alsoDelete.length > 0) await this.options.store.remove(alsoDelete[0]!, signal).catch(() => undefined);
      return { kind: 'taken' };
    }
    const committed = await this.options.store.commit(
      { key: this.key, expectedVersion: current.version, value: formatSemaphore(taken.semaphore), puts: { [holderKey(this.group, id)]: new Date(this.now()).toISOString() }, deletes },
      signal,
    );
    return committed ? { kind: 'taken' } : { kind: 'raced' };
  }

  async release(id: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.change(`releasing ${id}'s slot in group '${this.group}'`, options.signal, (s) => {
      const given = giveSlot(s, id);
      return given.changed ? { semaphore: given.semaphore, deletes: [holderKey(this.group, id)] } : undefined;
    });
  }

  /** Sets the group's number of slots (creating the semaphore if needed); holders are kept. */
  async setMax(totalSlots: number, options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.change(`setting group '${this.group}' to ${totalSlots} slots`, options.signal, (s, exists) =>
      s.totalSlots === totalSlots && exists ? undefined : { semaphore: setTotalSlots(s, totalSlots), deletes: [] },
    );
  }

  /** Read, change, compare-and-swap, until the swap holds or there is nothing to change. */
  private async change(what: string, signal: AbortSignal | undefined, mutate: (s: Semaphore, exists: boolean) => { semaphore: Semaphore; deletes: string[] } | undefined): Promise<void> {
    const store = this.options.store;
    await this.retrying(what, signal, this.deadline(), async () => {
      for (;;) {
        const current = await store.get(this.key, signal);
        const next = mutate(this.decode(current), current.version > 0);
        if (!next) return;
        if (await store.commit({ key: this.key, expectedVersion: current.version, value: formatSemaphore(next.semaphore), deletes: next.deletes }, signal)) return;
      }
    });
  }

  private async holdersWithTimes(holders: string[], signal?: AbortSignal): Promise<LockHolder[]> {
    const times = await this.options.store.list(holdersPrefix(this.group), signal);
    const since = new Map<string, string>();
    for (const [k, v] of times) {
      const id = holderIdOf(this.group, k);
      if (id !== undefined && !Number.isNaN(Date.parse(v))) since.set(id, v);
    }
    return holders.map((id) => (since.has(id) ? { id, since: since.get(id)! } : { id }));
  }

  async status(options: { signal?: AbortSignal } = {}): Promise<LockStatus> {
    return this.retrying(`reading group '${this.group}'`, options.signal, this.deadline(), async () => {
      const state = await this.options.store.get(this.key, options.signal);
      const semaphore = this.decode(state);
      return { group: this.group, totalSlots: semaphore.totalSlots, holders: await this.holdersWithTimes(semaphore.holders, options.signal) };
    });
  }

  async close(): Promise<void> {
    await this.options.store.close();
  }
}

function abortError(what: string, signal: AbortSignal | undefined, holders: string[] = []): KeelError {
  const reason = signal?.reason instanceof Error && signal.reason.name === 'TimeoutError' ? 'timed out' : 'stopped';
  return new KeelError('unavailable', `${what}: ${reason} while waiting${holders.length ? ` (held by ${holders.join(', ')})` : ''}`, { cause: signal?.reason });
}
