/**
 * size: acquire is one state machine (queue, take, wait, confirm) kept in one function so its retries read top to bottom
 * The reboot lock over any LockStore: read, change the pure semaphore, compare-and-swap.
 * Waiting watches, never polls: a waiting node joins keel's wait queue (wait-queue.ts) at
 * once, its key's put and its read of the semaphore in one request, takes a free slot
 * directly when there is room for everyone ahead of it, and otherwise watches only its own
 * queue key; whoever frees a slot (a release, more slots, a slot given back) hands it to
 * the head of the queue in the same transaction, so a hand-off costs one transaction and
 * wakes exactly one node, at any queue length. Releases leave a mark that any change folds
 * in (release-marks.ts), so releases racing for the one key do each other's work, and a
 * lost swap goes on from the view it read itself. airlock nodes do not queue; they simply
 * take free slots, and a slot an airlock node frees is handed on at a waiter's next look
 * (`safetyWakeMs`). Every step is idempotent for the same id, so a call whose reply was
 * lost (a leader killed mid-commit) is simply repeated: a re-read shows whether the write
 * landed.
 */
import { KeelError } from '../errors.js';
import type { Logger } from '../log.js';
import { jitteredDelayMs, sleep } from '../backoff.js';
import { expiredHolders } from './max-hold.js';
import { holderIdOf, holderKey, holdersPrefix, semaphoreKey, checkGroup } from './group-keys.js';
import { maxTxnOps, type CompareAndSwap, type LockStore, type VersionedValue } from './lock-store.js';
import { foldReleases, idNamedMark, markSlackMs, releasedFrom, releasedIdOf, releasedKey, releasedMs, releasedPrefix } from './release-marks.js';
import type { AcquireOptions, LockHolder, LockStatus, RebootLock, ReleaseOptions } from './reboot-lock.js';
import { emptySemaphore, formatSemaphore, fullMessage, giveSlot, parseSemaphore, setTotalSlots, takeSlot, type Semaphore } from './semaphore.js';
import { deadGrants, grantedValue, grantsFor, holderValue, isGranted, lookAgainMs, parseHolderValue, queueKey } from './wait-queue.js';
import { formatQueueWindow, parseQueueWindow, queueWindowKey, windowAfterSwap } from './queue-window.js';
import { WindowedLooks, type Look } from './windowed-looks.js';

/** A change to the semaphore: its new value, keys to delete, and mod revisions that must hold. */
interface Mutation {
  semaphore: Semaphore;
  deletes: string[];
  puts?: Record<string, string>;
  expect?: Record<string, number>;
}

/** How far before a holder's time its marks are listed (a clock set back between its take and its release). */
const markListSlackMs = 60_000;

/** Queue entries read per change: the free slots seldom exceed it; more are handed on in a second round. */
const queueReadLimit = 64;

/** Release marks (and stale queue keys) one swap takes at most, so that grants fit beside them. */
const foldLimit = 24;

/** The pause after a change's second and later lost swaps in a row (equal jitter): 10-20 ms, then 20-40 ms, up to 200-400 ms. */
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
  /** Looks at the group, within its queue window (windowed-looks.ts). */
  private readonly looks: WindowedLooks;
  private readonly now: () => number;
  private readonly random: () => number;

  constructor(private readonly options: SemaphoreLockOptions) {
    this.group = checkGroup(options.group);
    this.key = semaphoreKey(this.group);
    this.looks = new WindowedLooks(options.store, this.group, this.key, queueReadLimit);
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
          throw error; // stopped while etcd did not answer: that is the news
        }
      }
    }
  }

  private deadline(): number {
    return this.now() + (this.options.operationTimeoutMs ?? 30_000);
  }

  async acquire(id: string, options: AcquireOptions = {}): Promise<void> {
    if (options.wait === false) {
      await this.takeNow(id, options.signal);
      await options.whenGranted?.(false);
      return;
    }
    const signal = options.signal;
    const what = `taking a slot in group '${this.group}' for ${id}`;
    const store = this.options.store;
    /**
     * Our queue key's name (kept across retries: the put is create-only, so a reply lost
     * does not leave a key nobody watches), the key once in, the revision our wait starts
     * after, our place in line, and whether we stopped watching the key we had.
     */
    const queued: { name?: string; key?: string; revision: number; position: number; dropped: boolean } = { revision: 0, position: 0, dropped: false };
    let lastHolders: string[] = [];
    let taken = false;
    /** The caller's whenGranted, once started beside the confirmation of a hand-off. */
    let granted: Promise<void> | undefined;
    /** Our queue key as a look showed it handed a slot: confirmed as the watch event would be. */
    let handed: VersionedValue | undefined;
    try {
      await this.retrying(what, signal, Number.POSITIVE_INFINITY, async () => {
        for (;;) {
          if (signal?.aborted) throw abortError(what, signal, lastHolders);
          if (queued.key === undefined) {
            if (queued.dropped && queued.name !== undefined) {
              // Back from a key we stopped watching (a hand-off whose event we missed, a grant
              // taken back, a key gone with its lease): a read settles whether we hold a slot.
              const view = await this.looks.look(signal);
              if (this.decode(view.semaphore).holders.includes(id) && (await this.keepHeld(id, signal))) {
                taken = true;
                return;
              }
              await store.remove(queued.name, signal);
              queued.name = undefined;
            }
            queued.dropped = false;
            // Queue at once, in the same request as the read of the semaphore: the name sorts
            // by the time of arrival (the first, for a caller asking again; never below the
            // window, where no look would see it), so no read is needed to name it.
            queued.name ??= queueKey(this.group, Math.max(options.queuedSince ?? this.now(), this.looks.floorMs()), id);
            // The key's watch first, from etcd's next revision: a hand-off that comes while we
            // are still taking or handing on reaches us without etcd's catch-up of late watches.
            await store.watchFromNow(queued.name, signal);
            const joined = this.looks.noted(await store.enqueue(queued.name, id, this.looks.wholeKeys, signal));
            const now = this.decode(joined.semaphore);
            lastHolders = now.holders;
            this.slotsSeen = now.totalSlots;
            if (now.holders.includes(id)) {
              // A holder asking again: its new key was never handed anything.
              await store.remove(queued.name, signal);
              queued.name = undefined;
              if (await this.keepHeld(id, signal)) {
                taken = true;
                return;
              }
              continue;
            }
            if (this.looks.below(queued.name)) {
              // The window had moved past our name when we joined: move just above it.
              await store.remove(queued.name, signal);
              queued.name = undefined;
              continue;
            }
            Object.assign(queued, { key: queued.name, revision: joined.revision });
            if (now.totalSlots > now.holders.length) {
              // Slots were free as we joined: a look at the queue's head (not a count) shows
              // whether there is room for everyone ahead of us and for us.
              const view = await this.looks.look(signal);
              const at = view.queue.findIndex((e) => e.key === queued.name);
              queued.position = at < 0 ? view.queue.length : at;
              const outcome = await this.takeWithRoom(id, queued.name, view, signal);
              if (outcome === 'taken') {
                queued.key = undefined;
                taken = true;
                return;
              }
              handed = outcome;
              continue;
            }
            // Our place in line, which spaces our safety looks: estimated from the window's pace
            // when it has one, else counted, a read alone (a count inside the put would be walked
            // by every member, and the read walks every key before ours).
            queued.position = this.looks.placeEstimate(queued.name) ?? (await store.position(queued.name, this.looks.countFrom(), signal));
            if (this.options.maxHoldMs !== undefined) await this.reclaim(now.holders, signal);
            continue;
          }
          const event = handed ?? (await store.waitForChange(queued.key, queued.revision, lookAgainMs(this.options.safetyWakeMs ?? 10_000, queued.position, this.slotsSeen), signal));
          handed = undefined;
          if (event === undefined) {
            const position = await this.lookAgain(id, queued.key, queued.position, signal);
            if (position === undefined) Object.assign(queued, { key: undefined, dropped: true }); // a hand-off we missed: the read settles it
            else queued.position = position;
            continue;
          }
          if (isGranted(event.value)) {
            // The hand-off: the holder key was written in the same revision as our queue key.
            // The caller's first step runs beside the confirmation instead of after it, or,
            // when its first writes ride in the confirmation, after it, told whether they did.
            const rider = options.rider;
            if (options.whenGranted && !granted && !rider) (granted = options.whenGranted(false)).catch(() => undefined);
            const confirmed = await store.confirm(
              { queueKey: queued.key, holderKey: holderKey(this.group, id), holderModRevision: event.revision, holderValue: holderValue(this.isoNow()), ...(rider ? { rider } : {}) },
              signal,
            );
            if (confirmed.confirmed) {
              if (options.whenGranted && !granted) (granted = options.whenGranted(confirmed.rode)).catch(() => undefined);
              queued.key = undefined;
              taken = true;
              return;
            }
            // Not confirmed as read (a re-read value, or the grant was taken back): the read settles it.
            Object.assign(queued, { key: undefined, dropped: true });
            continue;
          }
          queued.revision = event.revision;
          // Our key went with an expired lease (a partition): read again and queue again.
          if (event.value === undefined) Object.assign(queued, { key: undefined, dropped: true });
        }
      });
    } catch (error) {
      if (signal?.aborted) throw abortError(what, signal, lastHolders, error);
      throw error;
    } finally {
      if (queued.key !== undefined && !taken) await store.remove(queued.key).catch(() => undefined);
    }
    await (granted ?? options.whenGranted?.(false));
  }

  /**
   * acquire without waiting: one read, then a take of a free slot nobody is queued for, or
   * a conflict naming the holders. Nothing is written for a conflict unless there were slots
   * or releases to hand on, so a node that asks every few seconds costs a read each time.
   */
  private async takeNow(id: string, signal?: AbortSignal): Promise<void> {
    const store = this.options.store;
    let folded = false;
    await this.retrying(`taking a slot in group '${this.group}' for ${id}`, signal, this.deadline(), async () => {
      for (;;) {
        let view = await this.looks.look(signal);
        const semaphore = this.decode(view.semaphore);
        if (semaphore.holders.includes(id)) {
          if (await this.keepHeld(id, signal)) return;
          continue;
        }
        const free = semaphore.totalSlots - semaphore.holders.length;
        // Nobody waiting within a window that ends: somebody may wait past it.
        if (free > 0 && view.bounds?.to !== undefined && !view.queue.some((e) => !isGranted(e.value))) view = await this.looks.lookWhole(signal);
        const queueWaiting = view.queue.some((e) => !isGranted(e.value));
        if (free > 0 && !queueWaiting) {
          if (await this.take(id, view.semaphore, semaphore, signal)) return;
          continue;
        }
        if (free <= 0 && this.options.maxHoldMs !== undefined && (await this.reclaim(semaphore.holders, signal))) continue;
        if (!folded && (free > 0 || view.released.length > 0)) {
          // Slots nobody handed on, or releases not folded in yet: hand them on, then look once more.
          folded = true;
          await this.handOn(signal);
          if (!queueWaiting) continue;
        }
        throw new KeelError('conflict', `${fullMessage(this.group, semaphore.totalSlots, semaphore.holders)}; not waiting (use --wait to wait for a slot)`);
      }
    });
  }

  /** Slots of the semaphore as last seen by a waiter (scales how often deep waiters look again). */
  private slotsSeen = 1;

  private isoNow(): string {
    return new Date(this.now()).toISOString();
  }

  /** Takes a free slot directly (nobody is queued before us): one compare-and-swap, deleting `alsoDelete` with it. */
  private async take(id: string, current: VersionedValue, semaphore: Semaphore, signal?: AbortSignal, alsoDelete: string[] = []): Promise<boolean> {
    const taken = takeSlot(semaphore, id);
    if (!taken.ok) return false;
    return this.options.store.commit(
      { key: this.key, expectedVersion: current.version, value: formatSemaphore(taken.semaphore), puts: { [holderKey(this.group, id)]: holderValue(this.isoNow()) }, deletes: alsoDelete },
      signal,
    );
  }

  /**
   * A node that joined while slots were free: when the queue's head in `view` leaves room for
   * everyone ahead of it and for it, it takes a slot directly, and the same swap hands the
   * other free slots to the nodes waiting (so the nodes joining at once do not each hand on,
   * and lose to each other). A lost swap goes on from what it read: there, a slot handed to
   * us by another node's swap is answered (our queue key as granted, to be confirmed), and
   * when no room is left for us, what could be handed on was. Answers 'taken', the granted
   * key, or undefined: wait.
   */
  private async takeWithRoom(id: string, name: string, view: Look, signal?: AbortSignal): Promise<'taken' | VersionedValue | undefined> {
    let held = false;
    for (let lost = 0; ; ) {
      const mine = view.queue.find((e) => e.key === name);
      if (!held && mine && isGranted(mine.value)) return { value: mine.value, version: 0, revision: mine.modRevision };
      let took = false;
      const queue = view.queue;
      const next = await this.swapFrom(
        view,
        (s) => {
          took = false;
          if (held || s.holders.includes(id) || !grantsFor(this.group, s, queue).grants.some((g) => g.entry.key === name)) return undefined;
          const taking = takeSlot(s, id);
          if (!taking.ok) return undefined;
          took = true;
          // Our queue key goes as a holder's stale key, in the same swap (swapFrom).
          return { semaphore: taking.semaphore, deletes: [], puts: { [holderKey(this.group, id)]: holderValue(this.isoNow()) } };
        },
        lost,
        signal,
      );
      // Held only when the swap that carried our take held (not when it was lost, nor when it
      // stopped to read the whole queue before swapping).
      held ||= took && (next === undefined || next.outcome === 'held');
      if (next === undefined) return held ? 'taken' : undefined;
      view = next.view;
      lost = next.outcome === 'lost' ? lost + 1 : 0;
    }
  }

  /**
   * A holder asking again: confirms its grant if still pending (its hand-off event was
   * missed), so no check takes it back. False when a release of its own was left half done
   * (its mark written, not folded in: a release interrupted): that release is finished
   * first, and the caller asks afresh.
   */
  private async keepHeld(id: string, signal?: AbortSignal): Promise<boolean> {
    const store = this.options.store;
    const key = holderKey(this.group, id);
    const olderMark = idNamedMark(this.group, id);
    const read = await store.readKeys([key, olderMark], signal);
    const held = read.get(key);
    // Its marks are named by time: those written since it took its slot are listed (a minute
    // early, for a clock set back), not every mark the group ever had.
    const since = held ? Date.parse(parseHolderValue(held.value).since ?? '') : Number.NaN;
    const from = Number.isNaN(since) ? undefined : releasedFrom(this.group, since - markListSlackMs);
    const listed = await store.list(releasedPrefix(this.group), signal, from);
    // (The listing holds an older keel's mark too when it sorts after `from`: one set.)
    const marks = [...new Set([...listed.keys(), ...(read.has(olderMark) ? [olderMark] : [])])].filter((m) => releasedIdOf(this.group, m) === id);
    if (marks.length) {
      await this.change(`finishing ${id}'s release in group '${this.group}'`, signal, (s) => ({ semaphore: giveSlot(s, id).semaphore, deletes: [key, ...marks] }));
      return false;
    }
    const pending = held && parseHolderValue(held.value).pendingQueueKey;
    if (held && pending) await store.confirm({ queueKey: pending, holderKey: key, holderModRevision: held.modRevision, holderValue: holderValue(this.isoNow()) }, signal);
    return true;
  }

  /**
   * A queued node's look without an event (the safety net): hands on free slots nobody
   * handed on, and near the head of the line gives back slots of dead grants and, when
   * configured, of holders past the maximum hold time. Answers our place in line, or
   * undefined when we already hold a slot (a hand-off whose event we missed).
   */
  private async lookAgain(id: string, key: string, position: number, signal?: AbortSignal): Promise<number | undefined> {
    const store = this.options.store;
    const view = await this.looks.look(signal);
    const semaphore = this.decode(view.semaphore);
    if (semaphore.holders.includes(id)) return undefined;
    this.slotsSeen = semaphore.totalSlots;
    if (semaphore.totalSlots > semaphore.holders.length || view.released.length > 0) {
      await this.handOn(signal);
    } else if (position < Math.max(1, semaphore.totalSlots)) {
      await this.reclaim(semaphore.holders, signal);
    }
    // Below the window (it moved past us as we joined): the re-read that follows moves us above it.
    if (this.looks.below(key)) return undefined;
    return store.position(key, this.looks.countFrom(), signal);
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
    // Each holder key and the queue key it names, side by side: read at one revision (readKeys
    // reads an even number of keys at a time), and the give-back expects the holder key unchanged.
    const dead = pending.length ? deadGrants(this.group, holders, await this.options.store.readKeys(pending, signal)) : [];
    const expired = expiredHolders(this.withTimes(holders, values), this.now(), this.options.maxHoldMs).filter((h) => !dead.some((d) => d.id === h));
    if (dead.length === 0 && expired.length === 0) return false;
    if (dead.length) this.options.log?.warning(`group '${this.group}': giving back the slots of ${dead.map((d) => d.id).join(', ')}, handed a slot while queued but gone before taking it`);
    if (expired.length) this.options.log?.warning(`group '${this.group}': releasing ${expired.join(', ')}, held longer than the maximum hold time`);
    await this.change(`giving back slots in group '${this.group}'`, signal, (s) => {
      // At most foldLimit a swap (two writes each beside the grants); the next look gives back the rest.
      const gone = [...dead.map((d) => d.id), ...expired].filter((h) => s.holders.includes(h)).slice(0, foldLimit);
      if (gone.length === 0) return undefined;
      return {
        semaphore: gone.reduce((acc, h) => giveSlot(acc, h).semaphore, s),
        deletes: gone.map((h) => holderKey(this.group, h)),
        expect: Object.fromEntries(dead.filter((d) => gone.includes(d.id)).map((d) => [d.holderKey, d.modRevision])),
      };
    });
    return true;
  }

  /**
   * Gives back `id`'s slot: its release mark goes in with the first read, and the swap that
   * folds it in hands the slot on. A swap lost to a change that read the mark is the end of
   * it; one lost to a change that did not goes on from the view the lost swap read. The
   * caller's riders go in with the mark, whether or not `id` still holds a slot.
   */
  async release(id: string, options: ReleaseOptions = {}): Promise<{ rode: boolean }> {
    const store = this.options.store;
    // Named once: a release asked again after a lost reply writes the same mark.
    const mark = releasedKey(this.group, id, this.now());
    const riders = options.riders?.length ? options.riders : undefined;
    let rode = false;
    await this.retrying(`releasing ${id}'s slot in group '${this.group}'`, options.signal, this.deadline(), async () => {
      // The window first (a read alone, of one key): the mark's write transaction then walks
      // the window, not every key that ever queued. What this lock saw as it queued is a wait
      // old, and a release after a reboot runs in a new process.
      await this.looks.readWindow(options.signal);
      let view = await this.looks.look(options.signal, { key: mark, value: this.isoNow(), ...(riders ? { riders } : {}) });
      rode = riders !== undefined;
      for (let lost = 0; ; ) {
        if (!this.decode(view.semaphore).holders.includes(id)) {
          // Not a holder (any more): a mark nobody will fold in must not outlive this call
          // (one older than the look's marks may be there unseen).
          const unseen = view.bounds?.marksFrom !== undefined && mark < releasedFrom(this.group, view.bounds.marksFrom);
          if (view.released.includes(mark) || unseen) await store.remove(mark, options.signal);
          return;
        }
        // Still a holder, so its mark is there: it is folded in even if the look did not read it (a clock behind).
        const own = view.released.includes(mark) ? view : { ...view, released: [mark, ...view.released] };
        const next = await this.swapFrom(own, () => undefined, lost, options.signal);
        if (next === undefined) return;
        view = next.view;
        lost = next.outcome === 'lost' ? lost + 1 : 0;
      }
    });
    return { rode };
  }

  /** Sets the group's number of slots (creating the semaphore if needed); holders are kept. */
  async setMax(totalSlots: number, options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.change(`setting group '${this.group}' to ${totalSlots} slots`, options.signal, (s, exists) =>
      s.totalSlots === totalSlots && exists ? undefined : { semaphore: setTotalSlots(s, totalSlots), deletes: [] },
    );
  }

  /**
   * Read, change, fold in the release marks read, hand the free slots to the head of the
   * queue, compare-and-swap, until the swap holds or there is nothing to do. Every change
   * that frees a slot hands it on in the same transaction: the waiter it goes to wakes on
   * its own key, and nobody else wakes.
   */
  private async change(what: string, signal: AbortSignal | undefined, mutate: (s: Semaphore, exists: boolean) => Mutation | undefined): Promise<void> {
    await this.retrying(what, signal, this.deadline(), async () => {
      let view = await this.looks.look(signal);
      for (let lost = 0; ; ) {
        const next = await this.swapFrom(view, mutate, lost, signal);
        if (next === undefined) return;
        view = next.view;
        lost = next.outcome === 'lost' ? lost + 1 : 0;
      }
    });
  }

  /**
   * One swap from what `view` read: `mutate`'s change, the release marks folded in, the free
   * slots handed on. Answers undefined when it held with nothing left to do (or there was
   * nothing to do), else the view to go on from and why: the swap was lost (read by the lost
   * swap itself), it held with more left than one swap could do, or it was not sent because
   * the window came up short (the whole queue read instead). `lost`: swaps lost in a row.
   */
  private async swapFrom(view: Look, mutate: (s: Semaphore, exists: boolean) => Mutation | undefined, lost: number, signal?: AbortSignal): Promise<{ view: Look; outcome: 'held' | 'lost' | 'read' } | undefined> {
    const store = this.options.store;
    // Swaps lost again and again: step aside a little, randomly and longer each time, so
    // nodes changing the one semaphore at once do not all try again at once.
    if (lost >= 2) await sleep(jitteredDelayMs(lost - 2, this.random, lostSwapBackoff), signal);
    // One transaction holds at most maxTxnOps writes: a fold takes two per mark (the mark and
    // the holder key), a grant two (the holder key and the queue key); the rest waits for the
    // next swap, which follows at once.
    const marks = view.released.slice(0, foldLimit);
    const folded = foldReleases(this.group, this.decode(view.semaphore), marks);
    const mutation = mutate(folded.semaphore, view.semaphore.version > 0);
    const base = mutation?.semaphore ?? folded.semaphore;
    const found = grantsFor(this.group, base, view.queue);
    // A window that ends came up short of the free slots: read the whole queue once, and go on from that.
    if (view.bounds?.to !== undefined && found.grants.length < base.totalSlots - base.holders.length) return { view: await this.looks.lookWhole(signal), outcome: 'read' };
    const stale = found.stale.slice(0, foldLimit);
    // One write is kept for the queue window's record.
    const room = maxTxnOps - 2 - (mutation?.deletes.length ?? 0) - Object.keys(mutation?.puts ?? {}).length - folded.released.length - marks.length - stale.length;
    const grants = found.grants.slice(0, Math.max(0, Math.min(Math.floor(room / 2), maxTxnOps - 1 - Object.keys(mutation?.expect ?? {}).length)));
    const more = grants.length < found.grants.length || marks.length < view.released.length || stale.length < found.stale.length;
    if (!mutation && grants.length === 0 && stale.length === 0 && marks.length === 0) {
      await this.looks.moveEnd(view, view.window, signal);
      return undefined;
    }
    const at = this.isoNow();
    // The window starts at the last key granted (the keys before it have their slots), and
    // reads marks from a little before the newest folded in (never past this clock: one node's
    // clock far ahead would hide every other node's marks, which their releases then fold alone).
    const markTimes = marks.flatMap((m) => releasedMs(this.group, m) ?? []);
    const newestMark = markTimes.length ? Math.min(Math.max(...markTimes), this.now()) : undefined;
    const moved = windowAfterSwap(parseQueueWindow(this.group, view.window.value), grants.at(-1)?.entry.key, newestMark, markSlackMs);
    const change: CompareAndSwap = {
      key: this.key,
      expectedVersion: view.semaphore.version,
      value: formatSemaphore({ totalSlots: base.totalSlots, holders: [...base.holders, ...grants.map((g) => g.id)].sort() }),
      puts: { ...mutation?.puts, ...Object.fromEntries(grants.map((g) => [holderKey(this.group, g.id), holderValue(at, g.entry.key)])), ...(moved ? { [queueWindowKey(this.group)]: formatQueueWindow(moved) } : {}) },
      rewrites: Object.fromEntries(grants.map((g) => [g.entry.key, grantedValue(at)])),
      deletes: [...(mutation?.deletes ?? []), ...folded.released.map((id) => holderKey(this.group, id)), ...marks, ...stale.map((e) => e.key)],
      expect: { ...mutation?.expect, ...Object.fromEntries(grants.map((g) => [g.entry.key, g.entry.modRevision])) },
    };
    const lostView = await this.looks.swap(change, signal);
    if (lostView) return { view: lostView, outcome: 'lost' };
    await this.looks.moveEnd(view, moved ? { value: formatQueueWindow(moved), version: view.window.version + 1, revision: 0 } : view.window, signal);
    // More free slots than the queue read held, or more than one transaction could take: hand on
    // the rest. A swap that gave every free slot away has none left, however long the queue.
    const slotsLeft = base.totalSlots - base.holders.length - grants.length;
    if (!more && (view.queue.length < queueReadLimit || grants.length === 0 || slotsLeft <= 0)) return undefined;
    return { view: await this.looks.look(signal), outcome: 'held' };
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

/** A wait that ended by its signal; an etcd failure it was retrying then (`last`) is said too, so 'etcd away' does not read as 'group full'. */
function abortError(what: string, signal: AbortSignal | undefined, holders: string[] = [], last?: unknown): KeelError {
  const reason = signal?.reason instanceof Error && signal.reason.name === 'TimeoutError' ? 'timed out' : 'stopped';
  const failing = last instanceof KeelError && last.cause !== signal?.reason ? last.message : undefined;
  return new KeelError('unavailable', `${what}: ${reason} while waiting${holders.length ? ` (held by ${holders.join(', ')})` : ''}${failing ? `; the last try: ${failing}` : ''}`, { cause: signal?.reason });
}
