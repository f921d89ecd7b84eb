/**
 * The FleetLock server's lock objects, one per group, in a bounded map: at most `limit`
 * groups used within the last `idleMs`, least recently used first out. Any client can
 * name any group, so without a bound every made-up name would cost memory for good
 * (issue 9: 2,000 groups, 86 MB). A lock object is a stateless view of etcd, so dropping
 * an idle one loses nothing; a request for a new group while `limit` groups are in use
 * is refused by the caller (429).
 */
export interface GroupLocksOptions<T> {
  create: (group: string) => T;
  limit: number;
  idleMs: number;
  now?: () => number;
}

interface Entry<T> {
  value: T;
  lastUsed: number;
  /** Requests in flight on this group: a busy entry is never dropped. */
  busy: number;
}

export class GroupLocks<T> {
  /** Insertion order is use order: the oldest use comes first. */
  private readonly entries = new Map<string, Entry<T>>();
  private readonly now: () => number;

  constructor(private readonly options: GroupLocksOptions<T>) {
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The group's lock, held busy until `done()`; undefined when `limit` other groups are in use. */
  use(group: string): { value: T; done: () => void } | undefined {
    const now = this.now();
    this.sweep(now);
    let entry = this.entries.get(group);
    if (entry) this.entries.delete(group);
    else {
      if (this.entries.size >= this.options.limit) return undefined;
      entry = { value: this.options.create(group), lastUsed: now, busy: 0 };
    }
    entry.lastUsed = now;
    entry.busy++;
    this.entries.set(group, entry);
    const used = entry;
    let finished = false;
    return {
      value: used.value,
      done: () => {
        if (finished) return;
        finished = true;
        used.busy--;
        used.lastUsed = this.now();
      },
    };
  }

  /** Drops idle entries from the old end; stops at the first one used within `idleMs`. */
  private sweep(now: number): void {
    for (const [group, entry] of this.entries) {
      if (now - entry.lastUsed < this.options.idleMs) return;
      if (entry.busy === 0) this.entries.delete(group);
    }
  }
}
