/**
 * When each kept etcd lease needs its next keep-alive, pure (time passed in). The npm
 * `etcd3` Lease opens one LeaseKeepAlive stream per lease; keel's lease keeper
 * (lease-keeper.ts) sends every lease of a client over one stream instead, and asks this
 * module what to send on each wake, which leases are surely gone, and whether the stream
 * has stopped answering.
 *
 * A lease is renewed every third of its TTL, as etcd's own Go client does. Leases whose
 * keep-alive falls due within a short slack are sent together, so ten thousand leases make
 * a wake every couple of seconds, not ten thousand timers.
 */

/** One kept lease as the schedule sees it (times in ms of the same clock). */
export interface LeaseTimes {
  ttlMs: number;
  /**
   * When etcd renewed it at the latest: the grant, or the send time of the last keep-alive
   * etcd answered (etcd renewed it after that send, so this errs on the early side).
   */
  renewedMs: number;
  /** The send time of a keep-alive not answered yet. */
  sentMs?: number;
}

/** The part of a TTL between keep-alives. */
export const keepAlivesPerTtl = 3;

/** How early a keep-alive may go to join a batch: a thirtieth of the TTL (2 s of 60 s). */
export function batchSlackMs(lease: LeaseTimes): number {
  return lease.ttlMs / 30;
}

/** A new lease, just granted at `nowMs`. */
export function grantedLease(ttlSeconds: number, nowMs: number): LeaseTimes {
  return { ttlMs: ttlSeconds * 1000, renewedMs: nowMs };
}

/** When the lease's next keep-alive is due: a third of its TTL after its renewal, or after an unanswered send. */
export function nextKeepAliveMs(lease: LeaseTimes): number {
  return Math.max(lease.renewedMs, lease.sentMs ?? Number.NEGATIVE_INFINITY) + lease.ttlMs / keepAlivesPerTtl;
}

/**
 * True when no keep-alive etcd answered can have reached it within its TTL: etcd has
 * revoked it (or will, before anything sent now arrives). A leader change may have
 * extended it on the server; calling it lost early only costs a new grant.
 */
export function isExpired(lease: LeaseTimes, nowMs: number): boolean {
  return nowMs >= lease.renewedMs + lease.ttlMs;
}

/** True when its keep-alive has gone unanswered for a third of its TTL: the stream is not answering. */
export function isStalled(lease: LeaseTimes, nowMs: number): boolean {
  return lease.sentMs !== undefined && nowMs - lease.sentMs >= lease.ttlMs / keepAlivesPerTtl;
}

/** The lease once a keep-alive went out at `nowMs`. */
export function sentLease(lease: LeaseTimes, nowMs: number): LeaseTimes {
  return { ...lease, sentMs: lease.sentMs ?? nowMs };
}

/** The lease on a new stream: keep-alives sent on the old one will never be answered. */
export function unsentLease(lease: LeaseTimes): LeaseTimes {
  return { ttlMs: lease.ttlMs, renewedMs: lease.renewedMs };
}

/**
 * The lease once etcd answered a keep-alive with `ttlSeconds` left: renewed as of the
 * unanswered send (or now, for an answer nobody waited for), or 'lost' when etcd says the
 * lease is gone (TTL 0 or less).
 */
export function answeredLease(lease: LeaseTimes, ttlSeconds: number, nowMs: number): LeaseTimes | 'lost' {
  if (!(ttlSeconds > 0)) return 'lost';
  return { ttlMs: lease.ttlMs, renewedMs: Math.max(lease.renewedMs, lease.sentMs ?? nowMs) };
}

/** What the keeper does on a wake. */
export interface TickPlan<K> {
  /** Leases whose keep-alive goes out now (due, or due within their batch slack). */
  send: K[];
  /** Leases etcd has surely revoked: drop them and tell their holders. */
  lost: K[];
  /** A keep-alive went unanswered for a third of its TTL: open a new stream and send every lease on it. */
  reopen: boolean;
  /** When to wake next (undefined: no lease left). */
  wakeAtMs: number | undefined;
}

/** The shortest time between two wakes, so a lease due in the past cannot make the keeper spin. */
export const minWakeGapMs = 10;

/** Plans one wake at `nowMs` over every kept lease. */
export function planTick<K>(leases: ReadonlyMap<K, LeaseTimes>, nowMs: number): TickPlan<K> {
  const plan: TickPlan<K> = { send: [], lost: [], reopen: false, wakeAtMs: undefined };
  let wake = Number.POSITIVE_INFINITY;
  for (const [key, lease] of leases) {
    if (isExpired(lease, nowMs)) {
      plan.lost.push(key);
      continue;
    }
    if (isStalled(lease, nowMs)) plan.reopen = true;
    const due = nextKeepAliveMs(lease);
    // An unanswered keep-alive is not sent again on the same stream: a reopen resends it.
    if (lease.sentMs === undefined && due - batchSlackMs(lease) <= nowMs) plan.send.push(key);
    // Waking at the earliest due time (not before it) lets the slack gather the ones just after it.
    else wake = Math.min(wake, lease.sentMs === undefined ? due : Math.min(due, lease.renewedMs + lease.ttlMs));
  }
  // A sent lease wakes us at its next keep-alive (to reopen if unanswered) or its expiry.
  for (const key of plan.send) wake = Math.min(wake, nextKeepAliveMs(sentLease(leases.get(key)!, nowMs)));
  if (wake !== Number.POSITIVE_INFINITY) plan.wakeAtMs = Math.max(wake, nowMs + minWakeGapMs);
  return plan;
}
