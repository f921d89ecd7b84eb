/**
 * The reboot lock as the update agent sees it: take a slot before rebooting, give it back
 * once the node is healthy again. Two implementations sit behind it: the etcd v3
 * semaphore (`semaphore-lock.ts` over `etcd-store.ts`) and a FleetLock HTTP client (`fleetlock-client.ts`);
 * `openRebootLock` (open-reboot-lock.ts) picks one from the lock settings.
 */

/** One holder of a slot, with when it took it when that is known (airlock holders have no time). */
export interface LockHolder {
  id: string;
  /** RFC 3339 time the holder took its slot, from keel's sibling key; absent for holders keel did not record. */
  since?: string;
}

/** What `status()` reports: the group's slots and who holds them. */
export interface LockStatus {
  group: string;
  totalSlots: number;
  holders: LockHolder[];
}

/**
 * Writes of the caller's that one of the lock's own requests carries, saving the caller a
 * request of its own: made only when none of `absent` exists (none listed: always). The
 * agent's rollout start rides in the confirmation of a slot handed over, its success in the
 * release. Plain keys and values: the lock knows nothing of what they mean.
 */
export interface Rider {
  absent: string[];
  puts: Record<string, string>;
}

export interface ReleaseOptions {
  signal?: AbortSignal;
  /** Written in the release's first request, each by its own condition (the etcd lock only). */
  riders?: Rider[];
}

export interface AcquireOptions {
  /** Wait (watching the key, not polling) until a slot frees up; otherwise a full semaphore fails at once. Default true. */
  wait?: boolean;
  /** Aborting stops the wait with a KeelError('unavailable'); a slot already taken stays taken. */
  signal?: AbortSignal;
  /**
   * The caller's first step with the slot (the agent records its start in the rollout), run
   * once: beside the confirmation of a slot handed over from the wait queue, saving a round
   * trip on every node's way to its reboot; after the transaction of a slot taken directly.
   * `acquire` resolves when both are done and rejects with its error. It must be harmless to
   * have run for a slot not confirmed after all (the wait goes on and it is not run again).
   * With a `rider` it runs after the confirmation instead, told whether the rider's writes
   * were made (never for a slot taken directly, nor by a FleetLock server).
   */
  whenGranted?: (rode: boolean) => Promise<void>;
  rider?: Rider;
  /**
   * When this caller first asked for the slot (ms since the epoch): a waiter that stops
   * waiting and asks again with it keeps its place in line. Default: now.
   */
  queuedSince?: number;
}

/**
 * The interface the update agent codes against. Every method is idempotent for the same
 * id: taking a slot already held succeeds, releasing a slot not held is a no-op, so an
 * agent that restarts mid-way can simply call again.
 *
 * Errors are KeelError: 'conflict' when the semaphore is full and `wait` is false (the
 * message names the holders), 'unavailable' when etcd or the FleetLock server did not
 * answer in time (retrying may help), 'invalid-input' for a bad group or id.
 */
export interface RebootLock {
  acquire(id: string, options?: AcquireOptions): Promise<void>;
  /** `rode`: the riders were written (the lock carries them and its request went through). */
  release(id: string, options?: ReleaseOptions): Promise<{ rode: boolean }>;
  /** FleetLock has no status request: the FleetLock client throws KeelError('unavailable') here. */
  status(options?: { signal?: AbortSignal }): Promise<LockStatus>;
  /** Closes connections; the lock cannot be used afterwards. */
  close(): Promise<void>;
}
