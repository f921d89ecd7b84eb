/**
 * What the apply orchestrator needs from systemd on a live host. The real one talks
 * D-Bus (one connection, reused); unit tests use a recording fake. Writing unit files
 * and enable/mask symlinks is plain filesystem work under the root, not done here.
 */
import type { UnitCommand } from '../systemd/unit-command.js';

export interface UnitCommandResult {
  unit: string;
  command: UnitCommand;
  /** systemd's job result: `done`, `failed`, `timeout`, `dependency`, `canceled`, `skipped`; `queued` for a job not waited for. */
  result: string;
}

export interface UnitManager {
  daemonReload(): Promise<void>;
  /**
   * Runs a unit command and waits for its job to finish; with `noBlock`, only queues the job
   * (`systemctl --no-block`) and answers `result: 'queued'`.
   */
  runUnitCommand(unit: string, command: UnitCommand, options?: { noBlock?: boolean }): Promise<UnitCommandResult>;
  /** Runs a command line as a transient service (for `#!` user-data and runcmd on a live host). */
  runTransient(name: string, argv: string[]): Promise<UnitCommandResult>;
  close(): Promise<void>;
}
