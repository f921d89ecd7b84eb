/**
 * size: acquire is one state machine (read, take, queue, wait, confirm) kept in one function so its retries read top to bottom
 * The reboot lock over any LockStore: read, change the pure semaphore, compare-and-swap,
 * and on a lost race read again. Waiting watches, never polls: a node that finds no free
 * slot joins keel's wait queue (wait-queue.ts) and watches only its own queue key; whoever
 * frees a slot (a release, more slots, a slot given back) hands it to the head of the queue
 * in the same transaction, so a hand-off costs one transaction and wakes exactly one node,
 * at any queue length. Jittered backoff happens only after errors. airlock nodes do not
 * queue; they simply take free slots, and a slot an airlock node frees is handed on at a
 * waiter's next look (`safetyWakeMs`). Every step is idempotent for the same id, so a call
 * whose reply was lost (a leader killed mid-commit) is simply repeated: a re-read shows
 * whether the write landed.
 */
import { KeelError } from '../errors.js';
import type { Logger } from '../log.js';
import { jitteredDelayMs, sleep } from '../backoff.js';
import { expiredHolders } from './max-hold.js';
import { holderIdOf, holderKey, holdersPrefix, semaphoreKey, checkGroup } from './group-keys.js';
import type { CompareAndSwap, LockStore, VersionedValue } from './lock-store.js';
import type { AcquireOptions, LockHolder, LockStatus, RebootLock } from './reboot-lock.js';
import { emptySemaphore, formatSemaphore, fullMessage, giveSlot, parseSemaphore, setTotalSlots, takeSlot, type Semaphore } from './semaphore.js';
import { deadGrants, grantedValue, grantsFor, holderValue, isGranted, lookAgainMs, parseHolderValue, queueKey, queuePrefix } from './wait-queue.js';

/** A change to the semaphore: its new value, keys to delete, and mod revisions that must hold. */
interface Mutation {
  semaphore: Semaphore;
  deletes: string[];
  expect?: Record<string, number>;
}

/** Queue entries read per change: the free slots seldom exceed it; more are handed on in a second round. */
const queueReadLimit = 64;

/** The pause after a lost swap of the semaphore (equal jitter): 10-20 ms, then 20-40 ms, up to 200-400 ms. */
const lostSwapBackoff = { initialDelayMs: 10, maxDelayMs: 400 };

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
  private readonly queue: string;
  private readonly now: () => number;
  private readonly random: () => number;

  constructor(private readonly options: SemaphoreLockOptions) {
    this.group = checkGroup(options.group);
    this.key = semaphoreKey(this.group);
    this.queue = queuePrefix(this.group);
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
    /** Our queue key once queued, the revision our wait starts after, and our place in line. */
    const queued: { name?: string; key?: string; revision: number; position: number } = { revision: 0, position: 0 };
    let lastHolders: string[] = [];
    let taken = false;
    let raced = false;
    /** The caller's whenGranted, once started beside the confirmation of a hand-off. */
    let granted: Promise<void> | undefined;
    // With wait the deadline is the signal's; without, the operation timeout.
    const deadline = wait ? Number.POSITIVE_INFINITY : this.deadline();
    try {
      await this.retrying(what, signal, deadline, async () => {
        for (;;) {
          if (signal?.aborted) throw abortError(what, signal, lastHolders);
          if (queued.key === undefined) {
            const view = await store.view(this.key, this.queue, 8, signal);
            const semaphore = this.decode(view.semaphore);
            lastHolders = semaphore.holders;
            if (semaphore.holders.includes(id)) {
              await this.confirmIfPending(id, signal);
              taken = true;
              return;
            }
            if (queued.name !== undefined) {
              // A queue key we stopped watching and were not handed a slot through: drop it, queue afresh.
              await store.remove(queued.name, signal);
              queued.name = undefined;
            }
            const free = semaphore.totalSlots - semaphore.holders.length;
            const queueWaiting = view.queue.some((e) => !isGranted(e.value));
            // A free slot and nobody queued: take it directly. A waiter that loses that race
            // queues instead of racing again, so many nodes arriving at once cost one
            // transaction each, not one per slot taken before theirs.
            if (free > 0 && !queueWaiting && !(wait && raced)) {
              if (await this.take(id, view.semaphore, semaphore, signal)) {
                taken = true;
                return;
              }
              raced = true;
              if (!wait) continue;
              // Lost the race: queue with what we read rather than reading again.
            }
            if (free <= 0 && this.options.maxHoldMs !== undefined && (await this.reclaim(semaphore.holders, signal))) continue;
            if (free > 0 && !wait && queueWaiting) await this.handOn(signal);
            if (!wait) throw new KeelError('conflict', `${fullMessage(this.group, semaphore.totalSlots, semaphore.holders)}; not waiting (use --wait to wait for a slot)`);
            // Queue up once, under a name kept across retries (the put is create-only).
            queued.name ??= queueKey(this.group, view.semaphore.revision, id);
            const joined = await store.enqueue(queued.name, id, this.queue, this.key, signal);
            Object.assign(queued, { key: queued.name, revision: joined.revision, position: joined.position });
            const now = this.decode(joined.semaphore);
            this.slotsSeen = now.totalSlots;
            // Free slots nobody handed on (freed before our key went in, or we lost the race for
            // one): hand them on now; only the waiters that would get one do it.
            if (joined.position < now.totalSlots - now.holders.length) await this.handOn(signal);
            continue;
          }
          const event = await store.waitForChange(queued.key, queued.revision, lookAgainMs(this.options.safetyWakeMs ?? 10_000, queued.position, this.slotsSeen), signal);
          if (event === undefined) {
            const position = await this.lookAgain(id, queued.key, queued.position, signal);
            if (position === undefined) queued.key = undefined; // a hand-off we missed: the read above settles it
            else queued.position = position;
            continue;
          }
          if (isGranted(event.value)) {
            // The hand-off: the holder key was written in the same revision as our queue key.
            // The caller's first step runs beside the confirmation instead of after it.
            if (options.whenGranted && !granted) (granted = options.whenGranted()).catch(() => undefined);
            if (await store.confirm(queued.key, holderKey(this.group, id), event.revision, holderValue(this.isoNow()), signal)) {
              queued.key = undefined;
              taken = true;
              return;
            }
            // Not confirmed as read (a re-read value, or the grant was taken back): the read above settles it.
            queued.key = undefined;
            continue;
          }
          queued.revision = event.revision;
          if (event.value === undefined) {
            // Our key went with an expired lease (a partition): read again and queue again.
            queued.key = undefined;
            queued.name = undefined;
          }
        }
      });
    } catch (error) {
      if (signal?.aborted) throw abortError(what, signal, lastHolders);
      throw error;
    } finally {
      if (queued.key !== undefined && !taken) await store.remove(queued.key).catch(() => undefined);
    }
    await (granted ?? options.whenGranted?.());
  }

  /** Slots of the semaphore as last seen by a waiter (scales how often deep waiters look again). */
  private slotsSeen = 1;

  private isoNow(): string {
    return new Date(this.now()).toISOString();
  }

  /** Takes a free slot directly (nobody is queued): one compare-and-swap. */
  private async take(id: string, current: VersionedValue, semaphore: Semaphore, signal?: AbortSignal): Promise<boolean> {
    const taken = takeSlot(semaphore, id);
    if (!taken.ok) return false;
    return this.options.store.commit(
      { key: this.key, expectedVersion: current.version, value: formatSemaphore(taken.semaphore), puts: { [holderKey(this.group, id)]: holderValue(this.isoNow()) } },
      signal,
    );
  }

  /** A holder whose grant is still pending (its hand-off event was missed) confirms it, so no check takes it back. */
  private async confirmIfPending(id: string, signal?: AbortSignal): Promise<void> {
    const key = holderKey(this.group, id);
    const read = await this.options.store.readKeys([key], signal);
    const held = read.get(key);
    const pending = held && parseHolderValue(held.value).pendingQueueKey;
    if (held && pending) await this.options.store.confirm(pending, key, held.modRevision, holderValue(this.isoNow()), signal);
  }

  /**
   * A queued node's look without an event (the safety net): hands on free slots nobody
   * handed on, and near the head of the line gives back slots of dead grants and, when
   * configured, of holders past the maximum hold time. Answers our place in line, or
   * undefined when we already hold a slot (a hand-off whose event we missed).
   */
  private async lookAgain(id: string, key: string, position: number, signal?: AbortSignal): Promise<number | undefined> {
    const store = this.options.store;
    const view = await store.view(this.key, this.queue, 8, signal);
    const semaphore = this.decode(view.semaphore);
    if (semaphore.holders.includes(id)) return undefined;
    this.slotsSeen = semaphore.totalSlots;
    if (semaphore.totalSlots > semaphore.holders.length) {
      await this.handOn(signal);
    } else if (position < Math.max(1, semaphore.totalSlots)) {
      await this.reclaim(semaphore.holders, signal);
    }
    return store.position(key, this.queue, signal);
  }

  /** Hands the free slots to the head of the queue. */
  private async handOn(signal?: AbortSignal): Promise<void> {
    await this.change(`handing free slots of group '${this.group}' on`, signal, () => undefined);
  }

  /** Gives back the slots of dead grants and of holders past the maximum hold time, handing them on; true when any went. */
  private async reclaim(holders: string[], signal?: AbortSignal): Promise<boolean> {
    const values = await this.options.store.list(holdersPrefix(this.group), signal);
    const pending = [...values].flatMap(([k, v]) => {
      const q = parseHolderValue(v).pendingQueueKey;
      return q ? [k, q] : [];
    });
    const dead = pending.length ? deadGrants(this.group, holders, await this.options.store.readKeys(pending, signal)) : [];
    const expired = expiredHolders(this.withTimes(holders, values), this.now(), this.options.maxHoldMs).filter((h) => !dead.some((d) => d.id === h));
    if (dead.length === 0 && expired.length === 0) return false;
    if (dead.length) this.options.log?.warning(`group '${this.group}': giving back the slots of ${dead.map((d) => d.id).join(', ')}, handed a slot while queued but gone before taking it`);
    if (expired.length) this.options.log?.warning(`group '${this.group}': releasing ${expired.join(', ')}, held longer than the maximum hold time`);
    await this.change(`giving back slots in group '${this.group}'`, signal, (s) => {
      const gone = [...dead.map((d) => d.id), ...expired].filter((h) => s.holders.includes(h));
      if (gone.length === 0) return undefined;
      return {
        semaphore: gone.reduce((acc, h) => giveSlot(acc, h).semaphore, s),
        deletes: gone.map((h) => holderKey(this.group, h)),
        expect: Object.fromEntries(dead.filter((d) => gone.includes(d.id)).map((d) => [d.holderKey, d.modRevision])),
      };
    });
    return true;
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

  /**
   * Read, change, hand the free slots to the head of the queue, compare-and-swap, until the
   * swap holds or there is nothing to do. Every change that frees a slot (a release, more
   * slots, a slot given back) hands it on in the same transaction: the waiter it goes to
   * wakes on its own key, and nobody else wakes.
   */
  private async change(what: string, signal: AbortSignal | undefined, mutate: (s: Semaphore, exists: boolean) => Mutation | undefined): Promise<void> {
    const store = this.options.store;
    await this.retrying(what, signal, this.deadline(), async () => {
      let lost = 0;
      for (;;) {
        // A swap lost to another node's change: step aside a little, randomly and longer each
        // time, so nodes changing the one semaphore at once do not all try again at once (a
        // 10,000-node roll sent ten swaps a release without it, most of them lost).
        if (lost > 0) await sleep(jitteredDelayMs(lost, this.random, lostSwapBackoff), signal);
        const view = await store.view(this.key, this.queue, queueReadLimit, signal);
        const current = this.decode(view.semaphore);
        const mutation = mutate(current, view.semaphore.version > 0);
        const base = mutation?.semaphore ?? current;
        const { grants, stale } = grantsFor(this.group, base, view.queue);
        if (!mutation && grants.length === 0 && stale.length === 0) return;
        const at = this.isoNow();
        const next = grants.reduce((acc, g) => [...acc, g.id], [...base.holders]).sort();
        const change: CompareAndSwap = {
          key: this.key,
          expectedVersion: view.semaphore.version,
          value: formatSemaphore({ totalSlots: base.totalSlots, holders: next }),
          puts: Object.fromEntries(grants.map((g) => [holderKey(this.group, g.id), holderValue(at, g.entry.key)])),
          rewrites: Object.fromEntries(grants.map((g) => [g.entry.key, grantedValue(at)])),
          deletes: [...(mutation?.deletes ?? []), ...stale.map((e) => e.key)],
          expect: { ...mutation?.expect, ...Object.fromEntries(grants.map((g) => [g.entry.key, g.entry.modRevision])) },
        };
        if (!(await store.commit(change, signal))) {
          lost++;
          continue;
        }
        // More free slots than the queue read held: hand on the rest.
        if (view.queue.length < queueReadLimit || grants.length === 0) return;
        mutate = () => undefined;
      }
    });
  }

  private withTimes(holders: string[], values: Map<string, string>): LockHolder[] {
    const since = new Map<string, string>();
    for (const [k, v] of values) {
      const id = holderIdOf(this.group, k);
      const parsed = parseHolderValue(v);
      if (id !== undefined && parsed.since) since.set(id, parsed.since);
    }
    return holders.map((id) => (since.has(id) ? { id, since: since.get(id)! } : { id }));
  }

  async status(options: { signal?: AbortSignal } = {}): Promise<LockStatus> {
    return this.retrying(`reading group '${this.group}'`, options.signal, this.deadline(), async () => {
      const state = await this.options.store.get(this.key, options.signal);
      const semaphore = this.decode(state);
      return { group: this.group, totalSlots: semaphore.totalSlots, holders: this.withTimes(semaphore.holders, await this.options.store.list(holdersPrefix(this.group), options.signal)) };
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
