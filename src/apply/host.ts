/**
 * What the applier acts on: the filesystem under a root, the accounts there, and on a live
 * host systemd (a UnitManager). Passed in, so tests give a temp root and a recording fake.
 */
import type { Logger } from '../log.js';
import type { Accounts } from '../host/accounts.js';
import type { RootFs } from '../host/root-fs.js';
import type { UnitManager } from '../host/unit-manager.js';

export interface Host {
  fs: RootFs;
  accounts: Accounts;
  /** Present on a live host only; a plan with live operations needs it. */
  units?: UnitManager;
  log: Logger;
  /** The apply's time, for the instance record (time is passed in). */
  now: Date;
  /** A short unique word for this run, so transient unit names never collide with a failed earlier run's. */
  runId: string;
  /**
   * Waits until the network is online; called once, before the first operation that needs
   * it (network-phase.ts). Absent offline: nothing to wait for.
   */
  waitNetwork?: () => Promise<void>;
  /**
   * Sets the running hostname in this process itself (kernel-hostname.ts), when it shares
   * systemd's namespace; absent, a live host sets it through a transient unit.
   */
  setRunningHostname?: (name: string) => Promise<void>;
}
