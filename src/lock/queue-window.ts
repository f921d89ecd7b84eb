/**
 * Where the waiting part of a group's queue lies, so that a read of its head touches little
 * else. etcd 3.4 walks every key of a range whatever its limit, deleted keys too until a
 * compaction, and each member walks the ranges of a write transaction in its apply loop: a
 * read of the whole queue prefix walks every node that ever queued (10,000 in the fleet
 * benchmark, in every release). The window record (`.../v1/keel-queue-window`, JSON) names
 * a key at or before the head (`from`) and the key about `windowSpan` keys past it (`to`),
 * and reads of the head range over `[from, to]` only. Release marks (release-marks.ts) are
 * named by time too, and read from `marksFrom`, a little before the newest mark folded in.
 *
 * It is a hint. No grant rests on it: each is guarded by the semaphore's version and the
 * granted queue key's revision. A stale `from` costs a few more deleted keys walked; a read
 * whose window the head has passed comes up short, and its reader reads the whole queue
 * once and moves the window on. A queue key below `from` (a node asking again with the time
 * it first asked, a clock behind) is outside every bounded read, so its node moves it just
 * above `from` (semaphore-lock.ts).
 */
import { checkGroup } from './group-keys.js';
import { queuePrefix } from './wait-queue.js';

/**
 * Where looks read: queue keys from `from` (inclusive; none: the whole queue) to `to`
 * (inclusive; none: the queue's end), and release marks written from `marksFrom` on
 * (milliseconds; none: every mark).
 */
export interface QueueWindow {
  from?: string;
  to?: string;
  marksFrom?: number;
  /**
   * Queue keys per millisecond of their names from `from` to `to` when the end was set: a
   * node joining estimates its place in line from it (placeEstimate) instead of counting the
   * keys before it, a read that walks all of them. The place only spaces its safety looks.
   */
  pace?: number;
}

/** Queue keys a window spans when it is moved on: several turns of every slot, so a hint a reboot old still covers the head. */
export const windowSpan = 256;

/** `com.coreos.airlock/groups/<group>/v1/keel-queue-window` (outside the queue's prefix: '-' sorts before '/'). */
export function queueWindowKey(group: string): string {
  return `com.coreos.airlock/groups/${checkGroup(group)}/v1/keel-queue-window`;
}

/** The record's window, or undefined when it is absent or not one of this group's (then looks read everything). */
export function parseQueueWindow(group: string, value: string | undefined): QueueWindow | undefined {
  if (value === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const prefix = queuePrefix(group);
  const { from, to, marksFrom, pace } = parsed as { from?: unknown; to?: unknown; marksFrom?: unknown; pace?: unknown };
  const isKey = (k: unknown): k is string => typeof k === 'string' && k.startsWith(prefix);
  if (from !== undefined && !isKey(from)) return undefined;
  if (to !== undefined && (from === undefined || !isKey(to) || to < from)) return undefined;
  if (marksFrom !== undefined && !(Number.isSafeInteger(marksFrom) && (marksFrom as number) >= 0)) return undefined;
  if (pace !== undefined && !(typeof pace === 'number' && Number.isFinite(pace) && pace > 0)) return undefined;
  return tidy({ from, to, marksFrom: marksFrom as number | undefined, pace: pace as number | undefined });
}

export function formatQueueWindow(window: QueueWindow): string {
  return JSON.stringify(tidy(window));
}

/** The window without its absent fields. */
function tidy(w: QueueWindow): QueueWindow {
  return {
    ...(w.from !== undefined ? { from: w.from } : {}),
    ...(w.to !== undefined ? { to: w.to } : {}),
    ...(w.marksFrom !== undefined ? { marksFrom: w.marksFrom } : {}),
    ...(w.pace !== undefined ? { pace: w.pace } : {}),
  };
}

/**
 * The window over `keys` (a read of the queue's keys from the old window's start, in order,
 * at most `windowSpan`): from its first key to its last, with the pace of their names, or
 * open-ended (and no pace: a short queue is cheap to count) when fewer than a look's `limit`
 * are left (a bound there would wear out at the next grant); an empty queue keeps the old
 * start, open-ended.
 */
export function windowOver(group: string, keys: string[], old: QueueWindow | undefined, limit: number): QueueWindow | undefined {
  const marks = old?.marksFrom !== undefined ? { marksFrom: old.marksFrom } : {};
  if (keys.length === 0) return old && tidy({ from: old.from, ...marks });
  if (keys.length < limit) return { from: keys[0]!, ...marks };
  const [fromMs, toMs] = [queueKeyMs(group, keys[0]!), queueKeyMs(group, keys[keys.length - 1]!)];
  const pace = fromMs !== undefined && toMs !== undefined && toMs > fromMs ? (keys.length - 1) / (toMs - fromMs) : undefined;
  return tidy({ from: keys[0]!, to: keys[keys.length - 1]!, ...marks, pace });
}

/**
 * A queue key's place in line as `window` estimates it: the keys named between the window's
 * start and it, at the window's pace; undefined when the window has no start or pace (a short
 * queue, a record from an older keel), or the key sorts before its start. Nodes do not arrive
 * at an even pace, so it is a guess: it spaces a waiter's safety looks, and decides nothing.
 */
export function placeEstimate(group: string, window: QueueWindow | undefined, key: string): number | undefined {
  const fromMs = window?.from !== undefined ? queueKeyMs(group, window.from) : undefined;
  const ms = queueKeyMs(group, key);
  if (window?.pace === undefined || fromMs === undefined || ms === undefined || ms < fromMs) return undefined;
  return Math.round((ms - fromMs) * window.pace);
}

/**
 * Whether a look's read of the head (`read` entries, at most `limit`, within `bounds`, or
 * the whole queue when undefined) shows the stored window's end worn: a window that ends
 * with fewer than `limit` keys left in it, or an open one (or none) whose read came back
 * full: the queue grew behind it, and a read without an end walks all of it. (Its start
 * moves with every grant: see `windowAfterSwap`.)
 */
export function windowWorn(bounds: QueueWindow | undefined, stored: QueueWindow | undefined, read: number, limit: number): boolean {
  if (bounds !== undefined) return bounds.to === undefined ? read >= limit : read < limit;
  return stored?.to !== undefined || read >= limit;
}

/**
 * The window after a swap that granted the keys up to `lastGranted` (every waiting key
 * before it in the read was granted with it) and folded in marks up to `newestMarkMs`, or
 * undefined when it does not move: it starts at that key, keeps its end while the end is
 * still ahead, and reads marks from a little before the newest folded (never back).
 */
export function windowAfterSwap(stored: QueueWindow | undefined, lastGranted: string | undefined, newestMarkMs: number | undefined, slackMs: number): QueueWindow | undefined {
  const from = lastGranted !== undefined && (stored?.from === undefined || lastGranted > stored.from) ? lastGranted : stored?.from;
  const to = stored?.to !== undefined && from !== undefined && stored.to >= from ? stored.to : undefined;
  const marksFrom = newestMarkMs !== undefined && newestMarkMs - slackMs > (stored?.marksFrom ?? -1) ? newestMarkMs - slackMs : stored?.marksFrom;
  const next = tidy({ from, to, marksFrom, pace: stored?.pace });
  return sameWindow(next, stored) ? undefined : next;
}

export function sameWindow(a: QueueWindow | undefined, b: QueueWindow | undefined): boolean {
  return a?.from === b?.from && a?.to === b?.to && a?.marksFrom === b?.marksFrom && a?.pace === b?.pace;
}

/** The milliseconds a queue key names, or undefined for a key that names none. */
export function queueKeyMs(group: string, key: string): number | undefined {
  const m = /^([0-9a-f]{16})\//.exec(key.slice(queuePrefix(group).length));
  return key.startsWith(queuePrefix(group)) && m ? parseInt(m[1]!, 16) : undefined;
}
