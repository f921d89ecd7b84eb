/**
 * keel's wait queue, pure: who gets the next free slot. A waiting node puts one key,
 * bound to its lease, whose name sorts by arrival (its clock's milliseconds when it first
 * asked, 16 hex digits, then its id), so the queue's head is a plain range read with a
 * limit, O(1) however long the queue, and joining needs no read before it. Clocks only
 * order the line: a node whose clock runs ahead waits behind nodes that came after it,
 * one whose clock lags goes before them; no slot is ever given twice. (Keys named by an
 * etcd revision, as keel wrote them before, sort before every time-named key.) A node that frees a slot hands it to the head in the
 * same compare-and-swap: the head is added to the holders, and its queue key is rewritten
 * to `granted …`, keeping its lease. The head watches only its own key, so a hand-off
 * wakes exactly one node, and the event carries the answer.
 *
 * A grant is pending until the node confirms it (deleting its queue key and recording its
 * time). A node that died while queued cannot confirm: its lease takes the queue key with
 * it, and the holder key still says `granted <queue key>`, which is how a later check tells
 * a dead grant from a confirmed one and gives the slot back (see `deadGrants`).
 */
import { checkGroup, holdersPrefix } from './group-keys.js';
import type { Semaphore } from './semaphore.js';

/** A queue key as read from etcd: its name, value and mod revision (for the compare). */
export interface QueueEntry {
  key: string;
  value: string;
  modRevision: number;
}

/** Prefix of a group's wait queue. */
export function queuePrefix(group: string): string {
  return `com.coreos.airlock/groups/${checkGroup(group)}/v1/keel-queue/`;
}

/** The queue key of `id` joining at `atMs` (milliseconds since the epoch). */
export function queueKey(group: string, atMs: number, id: string): string {
  return `${queuePrefix(group)}${Math.max(0, Math.floor(atMs)).toString(16).padStart(16, '0')}/${encodeURIComponent(id)}`;
}

/** The id of a queue key, or undefined for a key that is not one. */
export function queueIdOf(group: string, key: string): string | undefined {
  const m = /^[0-9a-f]{16}\/(.+)$/.exec(key.slice(queuePrefix(group).length));
  if (!key.startsWith(queuePrefix(group)) || !m) return undefined;
  try {
    return decodeURIComponent(m[1]!);
  } catch {
    return undefined;
  }
}

/** The value a queue key gets when its node is handed a slot (ids have no spaces, so no id looks like it). */
export function grantedValue(at: string): string {
  return `granted ${at}`;
}

export function isGranted(value: string | undefined): boolean {
  return value?.startsWith('granted ') ?? false;
}

/**
 * The value of a holder's time key. Confirmed: the RFC 3339 time it took the slot (what
 * keel always wrote). Pending: `<time> granted <queue key>`, until the node confirms.
 */
export function holderValue(at: string, pendingQueueKey?: string): string {
  return pendingQueueKey ? `${at} granted ${pendingQueueKey}` : at;
}

export interface HolderValue {
  since?: string;
  /** The queue key of a grant not yet confirmed. */
  pendingQueueKey?: string;
}

export function parseHolderValue(value: string): HolderValue {
  const m = /^(\S+) granted (\S+)$/.exec(value);
  const since = m ? m[1]! : value;
  return { ...(Number.isNaN(Date.parse(since)) ? {} : { since }), ...(m ? { pendingQueueKey: m[2]! } : {}) };
}

/** A slot handed to a queued node: its id and the queue entry the compare-and-swap guards. */
export interface Grant {
  id: string;
  entry: QueueEntry;
}

/**
 * The queued nodes that get the free slots of `semaphore`, in queue order: entries still
 * waiting (not granted), whose id is not already a holder, one per id, at most the free
 * slot count. Entries of holders are returned apart so the caller can drop them.
 */
export function grantsFor(group: string, semaphore: Semaphore, queue: QueueEntry[]): { grants: Grant[]; stale: QueueEntry[] } {
  let free = semaphore.totalSlots - semaphore.holders.length;
  const grants: Grant[] = [];
  const stale: QueueEntry[] = [];
  const seen = new Set(semaphore.holders);
  for (const entry of queue) {
    if (isGranted(entry.value)) continue;
    const id = queueIdOf(group, entry.key);
    if (id === undefined) continue;
    if (seen.has(id)) {
      stale.push(entry);
      continue;
    }
    if (free <= 0) continue;
    seen.add(id);
    grants.push({ id, entry });
    free--;
  }
  return { grants, stale };
}

/**
 * Holders whose grant can never be confirmed: the holder key still names a pending queue
 * key, and that key is gone (its node's lease expired). `keys` is one consistent read of
 * the holder keys and the queue keys they name.
 */
export function deadGrants(group: string, holders: string[], keys: Map<string, { value: string; modRevision: number }>): { id: string; holderKey: string; modRevision: number }[] {
  const dead: { id: string; holderKey: string; modRevision: number }[] = [];
  for (const id of holders) {
    const key = holdersPrefix(group) + encodeURIComponent(id);
    const held = keys.get(key);
    if (!held) continue;
    const pending = parseHolderValue(held.value).pendingQueueKey;
    if (pending && !keys.has(pending)) dead.push({ id, holderKey: key, modRevision: held.modRevision });
  }
  return dead;
}

/**
 * How long a queued node waits before looking again without an event. The watch is the
 * mechanism; this is a safety net (a free slot nobody handed on: an airlock node released
 * it, a grant died, a holder passed the maximum hold time). Nodes near the head look at
 * `baseMs`; deeper ones less often, so the looks stay a handful per slot, not per node.
 */
export function lookAgainMs(baseMs: number, position: number, totalSlots: number): number {
  const depth = Math.floor(position / Math.max(1, totalSlots));
  return baseMs * Math.min(30, 1 + depth);
}
