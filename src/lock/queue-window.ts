/**
 * Where the waiting part of a group's queue lies, so that a read of its head touches little
 * else. etcd 3.4 walks every key of a range whatever its limit, deleted keys too until a
 * compaction, and each member walks the ranges of a write transaction in its apply loop: a
 * read of the whole queue prefix walks every node that ever queued (10,000 in the fleet
 * benchmark, in every release). The window record (`.../v1/keel-queue-window`, JSON) names
 * a key at or before the head (`from`) and the key about `windowSpan` keys past it (`to`),
 * and reads of the head range over `[from, to]` only.
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

/** A range of queue keys: `from` inclusive, `to` inclusive; no `to` reads to the queue's end. */
export interface QueueWindow {
  from: string;
  to?: string;
}

/** Queue keys a window spans when it is moved on: several turns of every slot, so a hint a reboot old still covers the head. */
export const windowSpan = 256;

/** `com.coreos.airlock/groups/<group>/v1/keel-queue-window` (outside the queue's prefix: '-' sorts before '/'). */
export function queueWindowKey(group: string): string {
  return `com.coreos.airlock/groups/${checkGroup(group)}/v1/keel-queue-window`;
}

/** The record's window, or undefined when it is absent or not one of this group's (then reads take the whole queue). */
export function parseQueueWindow(group: string, value: string | undefined): QueueWindow | undefined {
  if (value === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return undefined;
  }
  const prefix = queuePrefix(group);
  const record = parsed as { from?: unknown; to?: unknown } | null;
  const from = record?.from;
  const to = record?.to;
  if (typeof from !== 'string' || !from.startsWith(prefix)) return undefined;
  if (to !== undefined && (typeof to !== 'string' || !to.startsWith(prefix) || to < from)) return undefined;
  return to === undefined ? { from } : { from, to };
}

export function formatQueueWindow(window: QueueWindow): string {
  return JSON.stringify(window.to === undefined ? { from: window.from } : { from: window.from, to: window.to });
}

/**
 * The window over `keys` (a read of the queue's keys from the old window's start, in order,
 * at most `windowSpan`): from its first key to its last, or open-ended when fewer than a
 * look's `limit` are left (a bound there would wear out at the next grant); an empty queue
 * keeps the old start, open-ended.
 */
export function windowOver(keys: string[], old: QueueWindow | undefined, limit: number): QueueWindow | undefined {
  if (keys.length === 0) return old && { from: old.from };
  return keys.length < limit ? { from: keys[0]! } : { from: keys[0]!, to: keys[keys.length - 1]! };
}

/**
 * Whether a look's read of the head (`read` entries, at most `limit`, within `bounds`, or
 * the whole queue when undefined) shows the stored window's end worn: a window that ends
 * with fewer than `limit` keys left in it, or an open one (or none) whose read came back
 * full: the queue grew behind it, and a read without an end walks all of it. (Its start
 * moves with every grant: see `windowAfterGrants`.)
 */
export function windowWorn(bounds: QueueWindow | undefined, stored: QueueWindow | undefined, read: number, limit: number): boolean {
  if (bounds !== undefined) return bounds.to === undefined ? read >= limit : read < limit;
  return stored?.to !== undefined || read >= limit;
}

/**
 * The window once the keys up to `lastGranted` have their slots (every waiting key before
 * it in the read was granted with it), or undefined when it does not move: it starts at
 * that key, and keeps its end while the end is still ahead.
 */
export function windowAfterGrants(stored: QueueWindow | undefined, lastGranted: string): QueueWindow | undefined {
  if (stored !== undefined && lastGranted <= stored.from) return undefined;
  return stored?.to !== undefined && stored.to >= lastGranted ? { from: lastGranted, to: stored.to } : { from: lastGranted };
}

export function sameWindow(a: QueueWindow | undefined, b: QueueWindow | undefined): boolean {
  return a?.from === b?.from && a?.to === b?.to;
}

/** The milliseconds a queue key names, or undefined for a key that names none. */
export function queueKeyMs(group: string, key: string): number | undefined {
  const m = /^([0-9a-f]{16})\//.exec(key.slice(queuePrefix(group).length));
  return key.startsWith(queuePrefix(group)) && m ? parseInt(m[1]!, 16) : undefined;
}
