/**
 * Every lease of one etcd client kept alive over one LeaseKeepAlive stream. The npm
 * `etcd3` Lease opens a stream per lease, with its own timers; an agent process running
 * many agents (the fleet benchmark: 2,500 a worker) then holds thousands of streams, each
 * proxied by a follower to the leader. etcd's LeaseKeepAlive is a bidirectional stream that
 * takes any lease id, so one stream per client carries them all, and one timer sends each
 * batch that falls due (lease-schedule.ts decides what and when).
 *
 * A broken stream (an error, an end, or keep-alives left unanswered for a third of a TTL)
 * is opened again after a short backoff, and every keep-alive it left unanswered is sent
 * again on the new one (the others go at their turn). A lease
 * etcd answers with TTL 0, or that no answer renewed within its TTL, is lost: its holder is
 * told (`onLost`) and grants a new one, as with etcd3's 'lost' event.
 */
import { ClientClosedError, EtcdLeaseInvalidError, type Etcd3 } from 'etcd3';
import { backoffDelayMs } from '../backoff.js';
import { KeelError } from '../errors.js';
import type { Logger } from '../log.js';
import { answeredLease, grantedLease, nextKeepAliveMs, planTick, sentLease, unsentLease, type LeaseTimes } from './lease-schedule.js';

/** A LeaseKeepAlive stream as the keeper uses it. */
export interface KeepAliveStream {
  write(request: { ID: string }): void;
  end(): void;
  on(event: 'data', fn: (response: { ID: string | number; TTL: string | number }) => void): this;
  on(event: 'error', fn: (error: Error) => void): this;
  on(event: 'end', fn: () => void): this;
}

/** The lease calls the keeper makes: etcd's (etcdLeaseRpc), or a test's fake. */
export interface LeaseRpc {
  grant(ttlSeconds: number): Promise<string>;
  /** Revokes a lease; one that is already gone is not an error. */
  revoke(id: string): Promise<void>;
  openKeepAlive(): Promise<KeepAliveStream>;
}

/** The lease calls of an etcd3 client (grants and revokes carry its call deadline). */
export function etcdLeaseRpc(client: Etcd3): LeaseRpc {
  return {
    grant: async (ttlSeconds) => String((await client.leaseClient.leaseGrant({ TTL: ttlSeconds })).ID),
    revoke: async (id) => {
      try {
        await client.leaseClient.leaseRevoke({ ID: id });
      } catch (error) {
        if (!(error instanceof EtcdLeaseInvalidError)) throw error;
      }
    },
    openKeepAlive: () => client.leaseClient.leaseKeepAlive() as Promise<KeepAliveStream>,
  };
}

/** A lease a keeper keeps alive: the part of etcd3's Lease keel uses. */
export interface KeptLease {
  /** The lease id once granted; rejects when the grant failed (`onLost` is told too). */
  grant(): Promise<string>;
  /** Called once when the lease is lost (its grant failed, or etcd dropped it). */
  onLost(handler: (error: Error) => void): void;
  /** Stops its keep-alives: the lease, and its keys, go when its TTL runs out. */
  release(): void;
  /** Stops its keep-alives and revokes it: its keys go at once. */
  revoke(): Promise<void>;
}

/** Backoff between attempts to open the stream again. */
const reopenBackoff = { initialDelayMs: 100, maxDelayMs: 2000 };

export interface LeaseKeeperOptions {
  now?: () => number;
  log?: Logger;
}

/** One keep-alive stream for every lease of one client. */
export class LeaseKeeper {
  private readonly times = new Map<string, LeaseTimes>();
  private readonly holders = new Map<string, HeldLease>();
  private stream: KeepAliveStream | undefined;
  private opening = false;
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerAtMs = Number.POSITIVE_INFINITY;
  private reopenTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly now: () => number;

  constructor(
    readonly rpc: LeaseRpc,
    private readonly options: LeaseKeeperOptions = {},
  ) {
    this.now = options.now ?? Date.now;
  }

  /** Grants a lease of `ttlSeconds` and keeps it alive until it is released, revoked or lost. */
  lease(ttlSeconds: number): KeptLease {
    if (!(ttlSeconds >= 1)) throw new KeelError('invalid-input', `lease ttl: expected at least 1 second, found ${ttlSeconds}`);
    return new HeldLease(this, ttlSeconds);
  }

  /** How many leases it keeps alive now. */
  get size(): number {
    return this.times.size;
  }

  /** Starts keeping a granted lease alive. */
  keep(id: string, ttlSeconds: number, holder: HeldLease): void {
    if (this.closed) return;
    const times = grantedLease(ttlSeconds, this.now());
    this.times.set(id, times);
    this.holders.set(id, holder);
    // Only this lease's wake, not a plan over all: thousands of grants must not cost n² work.
    this.schedule(nextKeepAliveMs(times));
    if (!this.stream) this.open();
  }

  /** Stops keeping a lease alive; ends the stream with the last one. */
  drop(id: string): void {
    this.times.delete(id);
    this.holders.delete(id);
    if (this.times.size > 0) return;
    this.endStream();
    clearTimeout(this.timer);
    clearTimeout(this.reopenTimer);
    this.timer = this.reopenTimer = undefined;
    this.timerAtMs = Number.POSITIVE_INFINITY;
  }

  /** Stops everything without telling holders (the client is closing). */
  close(): void {
    this.closed = true;
    for (const id of [...this.times.keys()]) this.drop(id);
  }

  private schedule(atMs: number | undefined): void {
    if (atMs === undefined || this.closed || atMs >= this.timerAtMs) return;
    clearTimeout(this.timer);
    this.timerAtMs = atMs;
    this.timer = setTimeout(() => this.tick(), Math.max(0, atMs - this.now()));
  }

  private tick(): void {
    this.timer = undefined;
    this.timerAtMs = Number.POSITIVE_INFINITY;
    const now = this.now();
    const plan = planTick(this.times, now);
    for (const id of plan.lost) {
      const ttlS = this.times.get(id)!.ttlMs / 1000;
      this.lose(id, new KeelError('unavailable', `etcd lease ${id}: no keep-alive was answered within its ${ttlS} s ttl; its keys are gone, granting a new lease`));
    }
    if (plan.reopen && this.stream) {
      this.options.log?.debug('etcd lease keep-alives: the stream stopped answering; opening a new one');
      this.endStream();
    }
    if (!this.stream) this.open();
    else
      for (const id of plan.send) {
        this.stream.write({ ID: id });
        this.times.set(id, sentLease(this.times.get(id)!, now));
      }
    this.schedule(plan.wakeAtMs);
  }

  private open(): void {
    if (this.opening || this.closed || this.reopenTimer || this.times.size === 0) return;
    this.opening = true;
    this.rpc.openKeepAlive().then(
      (stream) => {
        this.opening = false;
        if (this.closed || this.times.size === 0) return stream.end();
        this.stream = stream;
        stream.on('data', (response) => this.answered(stream, response));
        stream.on('error', (error) => this.broken(stream, error));
        stream.on('end', () => this.broken(stream, new Error('the stream ended')));
        // Keep-alives sent on the old stream will never be answered: send them again here.
        for (const [id, times] of this.times) this.times.set(id, unsentLease(times));
        this.tick();
      },
      (error: unknown) => {
        this.opening = false;
        if (error instanceof ClientClosedError) return this.close();
        this.retryOpen(error as Error);
      },
    );
  }

  private retryOpen(error: Error): void {
    if (this.closed || this.times.size === 0) return;
    const delay = backoffDelayMs(this.failures++, reopenBackoff);
    this.options.log?.debug(`etcd lease keep-alives: ${error.message}; opening the stream again in ${delay} ms`);
    this.reopenTimer = setTimeout(() => {
      this.reopenTimer = undefined;
      this.open();
    }, delay);
  }

  private broken(stream: KeepAliveStream, error: Error): void {
    if (stream !== this.stream) return;
    this.stream = undefined;
    this.retryOpen(error);
  }

  private endStream(): void {
    const stream = this.stream;
    this.stream = undefined;
    if (!stream) return;
    // A late error on a stream we let go is no longer ours.
    stream.on('error', () => undefined);
    try {
      stream.end();
    } catch {
      // Already closed by the other side.
    }
  }

  private answered(stream: KeepAliveStream, response: { ID: string | number; TTL: string | number }): void {
    if (stream !== this.stream) return;
    this.failures = 0;
    const id = String(response.ID);
    const times = this.times.get(id);
    if (!times) return;
    const next = answeredLease(times, Number(response.TTL), this.now());
    if (next === 'lost') this.lose(id, new KeelError('unavailable', `etcd lease ${id} is gone (its keep-alive was answered with ttl 0); granting a new lease`));
    else this.times.set(id, next);
  }

  private lose(id: string, error: Error): void {
    const holder = this.holders.get(id);
    this.drop(id);
    holder?.lost(error);
  }
}

/** A lease handed out by a keeper. */
class HeldLease implements KeptLease {
  private ended = false;
  private readonly handlers: ((error: Error) => void)[] = [];
  private readonly id: Promise<string | Error>;

  constructor(
    private readonly keeper: LeaseKeeper,
    ttlSeconds: number,
  ) {
    this.id = keeper.rpc.grant(ttlSeconds).then(
      (id) => {
        if (!this.ended) keeper.keep(id, ttlSeconds, this);
        return id;
      },
      (error: unknown) => {
        this.lost(error as Error);
        // Kept as a value, so a grant nobody awaits does not reject unhandled.
        return error as Error;
      },
    );
  }

  async grant(): Promise<string> {
    const id = await this.id;
    if (id instanceof Error) throw id;
    return id;
  }

  onLost(handler: (error: Error) => void): void {
    this.handlers.push(handler);
  }

  /** Called by the keeper (or a failed grant): tells the holder once. */
  lost(error: Error): void {
    if (this.ended) return;
    this.ended = true;
    for (const handler of this.handlers) handler(error);
  }

  release(): void {
    this.ended = true;
    void this.id.then((id) => typeof id === 'string' && this.keeper.drop(id));
  }

  async revoke(): Promise<void> {
    this.release();
    const id = await this.id;
    if (typeof id === 'string') await this.keeper.rpc.revoke(id);
  }
}

const keepers = new WeakMap<Etcd3, LeaseKeeper>();

/** The keeper of `client`'s leases: one per client, shared by everything in the process that uses it. */
export function leaseKeeperFor(client: Etcd3, options: LeaseKeeperOptions = {}): LeaseKeeper {
  let keeper = keepers.get(client);
  if (!keeper) {
    keeper = new LeaseKeeper(etcdLeaseRpc(client), options);
    keepers.set(client, keeper);
  }
  return keeper;
}
