import { deadlineSignal } from '../deadline-signal.js';
import { KeelError } from '../errors.js';
import type { Logger } from '../log.js';
import type { AcquireOptions, RebootLock, Rider } from '../lock/reboot-lock.js';
import type { LockMode } from './reboot-policy.js';

/**
 * The agent's hold on the reboot lock (etcd or FleetLock, opened when first needed): take it
 * in the strategy's mode before a reboot, release it once the new slot is marked good.
 */
export type LockOutcome = 'taken' | 'not-needed' | 'without' | 'busy';

/** How long a take may wait in the lock's queue, and what stops it early (the agent stopping). */
export interface LockWait {
  ms: number;
  signal?: AbortSignal;
}

export class AgentLock {
  private lock: RebootLock | undefined;
  /** When this agent first asked for the slot it does not hold yet: asking again keeps its place in line. */
  private queuedSince: number | undefined;

  constructor(
    private readonly open: (() => Promise<RebootLock>) | undefined,
    private readonly log: Logger,
  ) {}

  private async opened(): Promise<RebootLock> {
    if (!this.open) throw new KeelError('unavailable', 'no reboot lock configured (/etc/keel/lock.conf)');
    this.lock ??= await this.open();
    return this.lock;
  }

  /**
   * Takes the lock for `holder` in `mode`. `without`: best-effort and the lock cannot be
   * reached, so the reboot goes ahead anyway; `busy`: wait and try again later. With `wait`
   * and a lock that is required, a full group is waited for in the lock's queue (watched,
   * not polled: the release that frees a slot hands it over) for at most `wait.ms`; asked
   * again, the agent keeps its place. Best-effort never waits: a lock that does not answer
   * must not look like a full one. `first`: the caller's first step with the slot and the
   * writes that may ride in its confirmation (AcquireOptions.whenGranted, rider).
   */
  async take(mode: LockMode, holder: string, wait?: LockWait, first?: Pick<AcquireOptions, 'whenGranted' | 'rider'>): Promise<LockOutcome> {
    if (mode === 'none') return 'not-needed';
    const waiting = mode === 'required' && wait !== undefined && wait.ms > 0;
    const deadline = waiting ? deadlineSignal(wait.ms, wait.signal) : undefined;
    const stop = deadline?.signal;
    try {
      const lock = await this.opened();
      if (waiting) this.queuedSince ??= Date.now();
      await lock.acquire(holder, waiting ? { wait: true, signal: stop, queuedSince: this.queuedSince, ...first } : { wait: false, ...first });
      this.queuedSince = undefined;
      this.log.notice('took the reboot lock');
      return 'taken';
    } catch (error) {
      if (stop?.aborted) {
        // The wait's end (or the agent stopping), whatever held it up: a full group or an etcd away.
        this.log.info(`reboot lock not taken: ${(error as Error).message}; asking again keeps this node's place in line`);
        return 'busy';
      }
      const kind = error instanceof KeelError ? error.kind : 'unavailable';
      if (mode === 'try' && kind === 'unavailable') {
        this.log.warning(`reboot lock unavailable (${(error as Error).message}); best-effort: rebooting without it`);
        return 'without';
      }
      this.log.info(`reboot lock not taken: ${(error as Error).message}`);
      return 'busy';
    } finally {
      deadline?.clear();
    }
  }

  /**
   * Releases `holder`'s hold; a failure matters only when `mustHold` (this node holds it, or
   * the strategy requires one). True when the lock wrote `riders` with the release.
   */
  async release(holder: string, mustHold: boolean, riders?: Rider[]): Promise<boolean> {
    this.queuedSince = undefined;
    try {
      return (await (await this.opened()).release(holder, riders ? { riders } : {})).rode;
    } catch (error) {
      if (mustHold) throw error;
      return false;
    }
  }

  async close(): Promise<void> {
    await this.lock?.close();
    this.lock = undefined;
  }
}
