/**
 * The reboot semaphore, pure: a number of slots and the ids holding them, kept sorted.
 * Taking it again as a holder succeeds (locksmith refused, a known bug); giving back a
 * slot one does not hold is a no-op; a full semaphore is an answer naming the holders,
 * not an exception, so callers decide whether to wait. Serialised in airlock's layout
 * (`{"total_slots":N,"holders":[...]}`) so keel and airlock nodes can share one key.
 */
import { KeelError } from '../errors.js';

export interface Semaphore {
  totalSlots: number;
  /** Sorted, no duplicates. */
  holders: string[];
}

/** The result of trying to take a slot. `changed` is false when `id` already held one. */
export type TakeResult =
  | { ok: true; semaphore: Semaphore; changed: boolean }
  | { ok: false; holders: string[]; totalSlots: number };

/** A fresh semaphore with no holders. */
export function emptySemaphore(totalSlots: number): Semaphore {
  checkSlots(totalSlots);
  return { totalSlots, holders: [] };
}

/** Takes a slot for `id`: recursive for a holder, refused when every slot is taken. */
export function takeSlot(semaphore: Semaphore, id: string): TakeResult {
  checkId(id);
  if (semaphore.holders.includes(id)) return { ok: true, semaphore, changed: false };
  if (semaphore.holders.length >= semaphore.totalSlots) return { ok: false, holders: semaphore.holders, totalSlots: semaphore.totalSlots };
  return { ok: true, semaphore: { totalSlots: semaphore.totalSlots, holders: [...semaphore.holders, id].sort() }, changed: true };
}

/** Gives back `id`'s slot; a no-op (changed false) when `id` holds none. */
export function giveSlot(semaphore: Semaphore, id: string): { semaphore: Semaphore; changed: boolean } {
  if (!semaphore.holders.includes(id)) return { semaphore, changed: false };
  return { semaphore: { totalSlots: semaphore.totalSlots, holders: semaphore.holders.filter((h) => h !== id) }, changed: true };
}

/**
 * Sets the number of slots. Lowering it below the holder count keeps the holders (they are
 * mid-reboot) and only stops new takes; 0 pauses every reboot in the group.
 */
export function setTotalSlots(semaphore: Semaphore, totalSlots: number): Semaphore {
  checkSlots(totalSlots);
  return { totalSlots, holders: semaphore.holders };
}

/** The message for a full semaphore, naming who holds it. */
export function fullMessage(group: string, totalSlots: number, holders: string[]): string {
  return `group '${group}' has all ${totalSlots} slot${totalSlots === 1 ? '' : 's'} taken, held by ${holders.join(', ') || 'nobody'}`;
}

/** airlock's JSON for the etcd value. */
export function formatSemaphore(semaphore: Semaphore): string {
  return JSON.stringify({ total_slots: semaphore.totalSlots, holders: semaphore.holders });
}

/**
 * Reads airlock's JSON. Holders written by Go may be `null`; unsorted or duplicated holders
 * (another writer) are normalised. Anything else is 'invalid-input': keel refuses to
 * overwrite a value it does not understand.
 */
export function parseSemaphore(text: string, key = 'semaphore'): Semaphore {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new KeelError('invalid-input', `${key}: expected airlock's JSON {"total_slots":N,"holders":[...]}, found unparsable text; refusing to change it`, { cause: error });
  }
  const record = typeof data === 'object' && data !== null && !Array.isArray(data) ? (data as Record<string, unknown>) : undefined;
  const slots = record?.total_slots;
  const holders = record?.holders ?? [];
  if (typeof slots !== 'number' || !Number.isInteger(slots) || slots < 0)
    throw new KeelError('invalid-input', `${key}: expected total_slots to be a whole number >= 0, found ${JSON.stringify(slots)}; refusing to change it`);
  if (!Array.isArray(holders) || holders.some((h) => typeof h !== 'string'))
    throw new KeelError('invalid-input', `${key}: expected holders to be a list of strings, found ${JSON.stringify(holders)}; refusing to change it`);
  return { totalSlots: slots, holders: [...new Set(holders as string[])].sort() };
}

function checkSlots(totalSlots: number): void {
  if (!Number.isInteger(totalSlots) || totalSlots < 0 || totalSlots > 1_000_000)
    throw new KeelError('invalid-input', `slots: expected a whole number from 0 to 1000000, found ${totalSlots}`);
}

/** Half of a UTF-16 pair without its other half. */
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Longest node id (a DNS name's limit). */
export const maxIdLength = 253;

/**
 * Why `id` is not a node id, or undefined when it is one: non-empty, at most 253
 * characters, no spaces or control characters, well-formed Unicode (a lone surrogate
 * cannot be encoded into keel's holder key).
 */
export function idProblem(id: string): string | undefined {
  const shown = id.length > 80 ? `${JSON.stringify(id.slice(0, 77))}... (${id.length} characters)` : JSON.stringify(id);
  if (id.length === 0 || id.length > maxIdLength || /[\s\u0000-\u001f\u007f]/.test(id) || loneSurrogate.test(id))
    return `expected a node id of 1 to ${maxIdLength} characters without spaces or control characters, found ${shown}`;
  return undefined;
}

function checkId(id: string): void {
  const problem = idProblem(id);
  if (problem) throw new KeelError('invalid-input', `id: ${problem}`);
}
