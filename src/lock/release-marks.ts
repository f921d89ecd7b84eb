/**
 * Release marks, pure. A node giving back its slot writes a mark under its group's
 * `keel-released/` prefix in the same request as its read of the semaphore, and every
 * change to the semaphore (a release, a hand-on, a slot given back, more slots) folds in
 * the marks it read: those ids leave the holders, their holder keys and the marks go, and
 * the slots they free are handed to the queue, all in its one compare-and-swap. Releases
 * racing for the one semaphore key thus do each other's work: a release whose swap is lost
 * to a change that read its mark is done, where it used to step aside, read and swap again
 * (at 10,000 nodes half of all releases did, and each lost swap made a turn of a slot
 * longer). airlock never reads the marks; its holders have none, so none is folded away.
 */
import { checkGroup } from './group-keys.js';
import { giveSlot, type Semaphore } from './semaphore.js';

/** Marks read per look: far more than ever wait to be folded at once (one per release in flight). */
export const releasedReadLimit = 256;

/** Prefix of a group's release marks: `.../v1/keel-released/`. */
export function releasedPrefix(group: string): string {
  return `com.coreos.airlock/groups/${checkGroup(group)}/v1/keel-released/`;
}

/**
 * The mark `id` writes as it gives back its slot at `atMs` (its clock, 16 hex digits, so
 * marks sort by time and a look reads only the recent ones: queue-window.ts); value: the
 * RFC 3339 time.
 */
export function releasedKey(group: string, id: string, atMs: number): string {
  return `${releasedFrom(group, atMs)}/${encodeURIComponent(id)}`;
}

/** The mark an older keel wrote for `id`: named by the id alone, so it is read by key. */
export function idNamedMark(group: string, id: string): string {
  return releasedPrefix(group) + encodeURIComponent(id);
}

/** Where a read of the marks written from `atMs` on starts. */
export function releasedFrom(group: string, atMs: number): string {
  return releasedPrefix(group) + Math.max(0, Math.floor(atMs)).toString(16).padStart(16, '0');
}

/** How far before the newest mark folded in the marks are still read: a releaser's clock behind by more has its own swap fold its mark. */
export const markSlackMs = 2000;

/** The milliseconds a mark's key names, or undefined for a mark of an older keel (`keel-released/<id>`). */
export function releasedMs(group: string, key: string): number | undefined {
  const m = /^([0-9a-f]{16})\//.exec(key.slice(releasedPrefix(group).length));
  return key.startsWith(releasedPrefix(group)) && m ? parseInt(m[1]!, 16) : undefined;
}

/** The id of a mark's key (time-named, or an older keel's `keel-released/<id>`), or undefined for a key that is not one. */
export function releasedIdOf(group: string, key: string): string | undefined {
  const prefix = releasedPrefix(group);
  if (!key.startsWith(prefix)) return undefined;
  const rest = key.slice(prefix.length);
  const timed = /^[0-9a-f]{16}\/(.+)$/.exec(rest);
  try {
    return decodeURIComponent(timed ? timed[1]! : rest);
  } catch {
    return undefined;
  }
}

/** `semaphore` with the holders named by `marks` (mark keys) gone, and the ids that went. */
export function foldReleases(group: string, semaphore: Semaphore, marks: string[]): { semaphore: Semaphore; released: string[] } {
  let folded = semaphore;
  const released: string[] = [];
  for (const mark of marks) {
    const id = releasedIdOf(group, mark);
    if (id === undefined) continue;
    const given = giveSlot(folded, id);
    if (given.changed) released.push(id);
    folded = given.semaphore;
  }
  return { semaphore: folded, released };
}
