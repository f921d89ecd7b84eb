/**
 * The optional maximum hold time, pure. Off by default, and here is why: a holder past the
 * limit may be a dead node (whose slot would otherwise be held forever, locksmith's known
 * complaint) or a live node whose reboot or health check is merely slow. Releasing it
 * frees the fleet but can put one more node than `total_slots` into a reboot at once, so
 * the limit should be well above the slowest healthy reboot. Only holders whose time keel
 * recorded can expire: an airlock holder has no time and is never released automatically
 * (an operator can still `keel lock release --id`). Times are compared with the clock of
 * the node that is waiting, so clock skew between nodes shortens or lengthens the limit.
 */
import type { LockHolder } from './reboot-lock.js';

/** The holders whose recorded time is more than `maxHoldMs` before `nowMs`. */
export function expiredHolders(holders: LockHolder[], nowMs: number, maxHoldMs: number | undefined): string[] {
  if (maxHoldMs === undefined || maxHoldMs <= 0) return [];
  return holders.filter((h) => h.since !== undefined && nowMs - Date.parse(h.since) > maxHoldMs).map((h) => h.id);
}
