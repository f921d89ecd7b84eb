/**
 * How many groups the FleetLock server lets exist in etcd. Only pre-reboot writes keys,
 * and only for a group whose semaphore is missing does it create new ones: before that,
 * the server counts the groups etcd already has and refuses (429) at `limit`, so made-up
 * group names cannot fill etcd (issue 9: 2,000 groups, 4,000 keys). Groups made by hosts
 * that talk to etcd directly count too. Concurrent first requests may pass the limit by
 * the number of requests in flight; the bound is about, not exact.
 */
import { groupOfSemaphoreKey, groupsPrefix, semaphoreKey } from './group-keys.js';
import type { LockStore } from './lock-store.js';

export class GroupQuota {
  /** Groups seen in etcd: they need no count again. Bounded by `limit` plus the in-flight overshoot. */
  private readonly existing = new Set<string>();

  constructor(
    private readonly store: LockStore,
    private readonly limit: number,
  ) {}

  /** True when `group` exists in etcd or one more group fits under the limit. */
  async mayCreate(group: string, signal?: AbortSignal): Promise<boolean> {
    if (this.existing.has(group)) return true;
    if ((await this.store.get(semaphoreKey(group), signal)).version > 0) return this.remember(group);
    const keys = await this.store.list(groupsPrefix, signal);
    const groups = new Set([...keys.keys()].map(groupOfSemaphoreKey).filter((g) => g !== undefined));
    return groups.size < this.limit ? this.remember(group) : false;
  }

  private remember(group: string): true {
    if (this.existing.size < this.limit * 2) this.existing.add(group);
    return true;
  }
}
