/**
 * A lock's looks at its group, read within the group's queue window (queue-window.ts): what
 * this lock last saw of the window, the bounds it gives a look, the moves of a key below it,
 * and the moves of a worn window's end. The window is a hint; nothing here decides a grant.
 */
import type { CompareAndSwap, LockStore, LockView, ReleaseMark, VersionedValue, ViewKeys } from './lock-store.js';
import { formatQueueWindow, parseQueueWindow, placeEstimate, queueKeyMs, queueWindowKey, sameWindow, windowOver, windowSpan, windowWorn, type QueueWindow } from './queue-window.js';
import { releasedFrom, releasedPrefix } from './release-marks.js';
import { queuePrefix } from './wait-queue.js';

/** A look at the group, with the window it read within (undefined: the whole queue, every mark). */
export type Look = LockView & { bounds: QueueWindow | undefined };

export class WindowedLooks {
  /** What a look at the whole group reads (lock-store.ts). */
  readonly wholeKeys: ViewKeys;
  /** The group's window as last read. */
  private window: QueueWindow | undefined;

  constructor(
    private readonly store: LockStore,
    private readonly group: string,
    semaphore: string,
    private readonly queueLimit: number,
  ) {
    this.wholeKeys = { semaphore, queuePrefix: queuePrefix(group), queueLimit, releasedPrefix: releasedPrefix(group), window: queueWindowKey(group) };
  }

  /** What a look reads: the queue and the marks within the window last read, or all of them before any. */
  keys(): ViewKeys {
    const w = this.window;
    if (!w) return this.wholeKeys;
    return {
      ...this.wholeKeys,
      ...(w.from !== undefined ? { queueFrom: w.from } : {}),
      ...(w.to !== undefined ? { queueTo: w.to } : {}),
      ...(w.marksFrom !== undefined ? { releasedFrom: releasedFrom(this.group, w.marksFrom) } : {}),
    };
  }

  /** Notes the window record a read saw, and answers the read. */
  noted<T extends { window: VersionedValue }>(read: T): T {
    this.window = parseQueueWindow(this.group, read.window.value);
    return read;
  }

  /** A look within the window; with `mark`, a release's write goes in the same request. */
  async look(signal?: AbortSignal, mark?: ReleaseMark): Promise<Look> {
    const bounds = this.window;
    return { ...this.noted(await this.store.view(this.keys(), signal, mark)), bounds };
  }

  /** A look at the whole queue and every mark: when the window came up short, or a fresh lock knows none. */
  async lookWhole(signal?: AbortSignal): Promise<Look> {
    return { ...this.noted(await this.store.view(this.wholeKeys, signal)), bounds: undefined };
  }

  /** The store's compare-and-swap; when it does not hold, the look it read instead, within the window. */
  async swap(change: CompareAndSwap, signal?: AbortSignal): Promise<Look | undefined> {
    const bounds = this.window;
    const lost = await this.store.swap(change, this.keys(), signal);
    return lost && { ...this.noted(lost), bounds };
  }

  /** Reads the window's record alone (one key): before a release's mark, whose write transaction every member walks. */
  async readWindow(signal?: AbortSignal): Promise<void> {
    this.noted({ window: await this.store.get(this.wholeKeys.window, signal) });
  }

  /** A queue key's place in line as the window last read estimates it (queue-window.ts), or undefined: count it. */
  placeEstimate(key: string): number | undefined {
    return placeEstimate(this.group, this.window, key);
  }

  /** Where a count of the keys before a queue key starts: the window's start, or the queue's. */
  countFrom(): string {
    return this.window?.from ?? this.wholeKeys.queuePrefix;
  }

  /** The first millisecond a queue key may name and still be read: just past the window's start. */
  floorMs(): number {
    const from = this.window?.from;
    const ms = from !== undefined ? queueKeyMs(this.group, from) : undefined;
    return ms === undefined ? 0 : ms + 1;
  }

  /** Whether `key` sorts below the window, where no look sees it (and it can be moved above it). */
  below(key: string): boolean {
    const from = this.window?.from;
    return from !== undefined && key < from && this.floorMs() > 0;
  }

  /**
   * Moves the window's end on once a look found it worn (queue-window.ts): the queue's keys
   * from its start (a read alone), then a compare-and-swap of the record (`record`: as the
   * look read it, or as the look's own swap wrote it), simply dropped when lost.
   */
  async moveEnd(look: Look, record: VersionedValue, signal?: AbortSignal): Promise<void> {
    const stored = parseQueueWindow(this.group, record.value);
    if (!windowWorn(look.bounds, stored, look.queue.length, this.queueLimit)) return;
    const next = windowOver(this.group, await this.store.queueKeys(this.wholeKeys.queuePrefix, stored?.from ?? this.wholeKeys.queuePrefix, windowSpan, signal), stored, this.queueLimit);
    if (next === undefined || sameWindow(next, stored)) return;
    if (await this.store.commit({ key: this.wholeKeys.window, expectedVersion: record.version, value: formatQueueWindow(next) }, signal)) this.window = next;
  }
}
