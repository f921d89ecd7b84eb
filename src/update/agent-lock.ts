import { KeelError } from '../errors.js';
import type { Logger } from '../log.js';
import type { RebootLock } from '../lock/reboot-lock.js';
import type { LockMode } from './reboot-policy.js';

/**
 * The agent's hold on the reboot lock (etcd or FleetLock, opened when first needed): take it
 * in the strategy's mode before a reboot, release it once the new slot is marked good.
 */
export type LockOutcome = 'taken' | 'not-needed' | 'without' | 'busy';

export class AgentLock {
  private lock: RebootLock | undefined;

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
   * reached, so the reboot goes ahead anyway; `busy`: wait and try again later.
   */
  async take(mode: LockMode, holder: string): Promise<LockOutcome> {
    if (mode === 'none') return 'not-needed';
    try {
      await (await this.opened()).acquire(holder, { wait: false });
      this.log.notice('took the reboot lock');
      return 'taken';
    } catch (error) {
      const kind = error instanceof KeelError ? error.kind : 'unavailable';
      if (mode === 'try' && kind === 'unavailable') {
        this.log.warning(`reboot lock unavailable (${(error as Error).message}); best-effort: rebooting without it`);
        return 'without';
      }
      this.log.info(`reboot lock not taken: ${(error as Error).message}`);
      return 'busy';
    }
  }

  /** Releases `holder`'s hold; a failure matters only when `mustHold` (this node holds it, or the strategy requires one). */
  async release(holder: string, mustHold: boolean): Promise<void> {
    try {
      await (await this.opened()).release(holder);
    } catch (error) {
      if (mustHold) throw error;
    }
  }

  async close(): Promise<void> {
    await this.lock?.close();
    this.lock = undefined;
  }
}
