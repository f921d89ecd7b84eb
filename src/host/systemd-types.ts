/**
 * The plain types SystemdBus speaks in: job modes, unit properties and states, unit-file
 * changes, transient runs. Kept apart so the client file holds behaviour only.
 */
import type { PropertyValue } from './systemd-values.js';

/** How a job is queued relative to others (systemctl's --job-mode). */
export type JobMode = 'replace' | 'fail' | 'isolate' | 'ignore-dependencies' | 'ignore-requirements';

/** The unit properties callers read most, plus every raw property. */
export interface UnitProperties {
  name: string;
  loadState: string;
  activeState: string;
  subState: string;
  /** The service's `Result` (`success`, `exit-code`, `signal`, `timeout`...), for services. */
  result?: string;
  nRestarts?: number;
  mainPid?: number;
  /** Exit status of the main process, or the signal number when `execMainCode` is 2 (killed). */
  execMainStatus?: number;
  execMainCode?: number;
  raw: Record<string, unknown>;
}

/** One row of ListUnits. */
export interface UnitStatus {
  name: string;
  description: string;
  loadState: string;
  activeState: string;
  subState: string;
  jobId: number;
}

/** A change of unit properties, as systemd signals it to subscribers. */
export interface PropertiesChange {
  unit: string;
  interface: string;
  changed: Record<string, unknown>;
  invalidated: string[];
}

/** A change EnableUnitFiles and friends made: `symlink` or `unlink`, the link and its target. */
export interface UnitFileChange {
  type: string;
  file: string;
  destination: string;
}

/** How a transient command ended. `exitStatus` 0 with jobResult `done`. */
export interface TransientRun {
  unit: string;
  jobResult: string;
  /** The service's Result: `success`, `exit-code`, `signal`, `timeout`, `core-dump`... */
  result: string;
  exitStatus?: number;
  signal?: number;
}

export interface TransientOptions {
  /** Unit name; default `keel-run-<random>.service`. */
  name?: string;
  description?: string;
  /** Kill the command after this long (result `timeout`). */
  timeoutMs?: number;
  /** More properties (Environment, WorkingDirectory, User...). */
  properties?: Record<string, PropertyValue>;
  /** Let systemd expand `$VAR` in the arguments; default false: argv is passed literally. */
  expandEnvironment?: boolean;
}
