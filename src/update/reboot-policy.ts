import type { RebootStrategy } from './update-settings.js';

/**
 * When a staged release may reboot the node, pure. `off` never reboots; otherwise the
 * maintenance window must be open (unless forced by `keel update apply`), a reboot waits
 * while users are logged in (bounded, then goes ahead), and the strategy says whether a
 * reboot lock is required (`etcd-lock`), tried (`best-effort`: lock if etcd answers) or
 * not used (`reboot`).
 */
export type LockMode = 'required' | 'try' | 'none';

/** What a wait is for: the maintenance window to open, or logged-in users to leave. */
export type WaitFor = 'window' | 'users';

export type RebootDecision = { kind: 'reboot'; lock: LockMode } | { kind: 'wait'; waitFor: WaitFor; reason: string } | { kind: 'never'; reason: string };

export interface RebootFacts {
  strategy: RebootStrategy;
  windowOpen: boolean;
  usersLoggedIn: number;
  postponeWhileLoggedIn: boolean;
  postponements: number;
  maxPostponements: number;
  /** `keel update apply`: ignore the window (the lock still applies). */
  force: boolean;
}

export function decideReboot(f: RebootFacts): RebootDecision {
  if (f.strategy === 'off') return { kind: 'never', reason: 'reboot strategy is off: staged, waiting for a manual reboot' };
  if (!f.force && !f.windowOpen) return { kind: 'wait', waitFor: 'window', reason: 'outside the maintenance window' };
  if (!f.force && f.postponeWhileLoggedIn && f.usersLoggedIn > 0 && f.postponements < f.maxPostponements)
    return { kind: 'wait', waitFor: 'users', reason: `${f.usersLoggedIn} user session(s) logged in (postponement ${f.postponements + 1} of ${f.maxPostponements})` };
  return { kind: 'reboot', lock: f.strategy === 'etcd-lock' ? 'required' : f.strategy === 'best-effort' ? 'try' : 'none' };
}

/** The delay before the next check: the interval with ±10% jitter (random passed in). */
export function checkDelayMs(intervalMs: number, random: number): number {
  return Math.round(intervalMs * (0.9 + 0.2 * random));
}
