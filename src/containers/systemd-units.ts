/**
 * What the supervisor asks of systemd, over keel's one D-Bus client (src/host/systemd-bus.ts):
 * jobs whose result is a word (`done`, `failed`, ...), a unit's state as the reconciler reads
 * it, and the manager's version (restart backoff depends on it).
 */
import { KeelError } from '../errors.js';
import type { SystemdBus } from '../host/systemd-bus.js';
import type { UnitControl } from './plan-executor.js';

/** What the supervisor reads of a unit. */
export interface UnitState {
  name: string;
  loadState: string;
  activeState: string;
  subState: string;
  /** Service Result: `success`, `exit-code`, `signal`, `start-limit-hit`, ... */
  result: string;
  needDaemonReload: boolean;
  nRestarts: number;
  mainPid: number;
  /** systemd's id of the unit's current run, new at every start: tells a restart happened. */
  invocationId: string;
}

/** The job verbs the plan executor runs, each resolving to systemd's job result. */
export function unitControlOf(bus: SystemdBus): UnitControl {
  return {
    daemonReload: () => bus.daemonReload(),
    start: async (unit) => (await bus.startUnit(unit)).result,
    restart: async (unit) => (await bus.restartUnit(unit)).result,
    stop: async (unit) => (await bus.stopUnit(unit)).result,
    resetFailed: (unit) =>
      bus.resetFailedUnit(unit).catch((e: unknown) => {
        // A unit systemd does not have loaded has nothing to reset.
        if (!(e instanceof KeelError && e.kind === 'not-found')) throw e;
      }),
  };
}

/** Restarts without touching units that require this one (a backoff restart must not restart its dependents). */
export async function restartAlone(bus: SystemdBus, unit: string): Promise<string> {
  return (await bus.restartUnit(unit, 'ignore-dependencies')).result;
}

/** A unit's state; loads the unit if systemd does not have it (LoadState then says `not-found`). */
export async function unitStateOf(bus: SystemdBus, unit: string): Promise<UnitState> {
  const p = await bus.getUnitProperties(unit);
  const invocation = p.raw.InvocationID;
  return {
    name: unit,
    loadState: p.loadState,
    activeState: p.activeState,
    subState: p.subState,
    result: p.result ?? '',
    needDaemonReload: p.raw.NeedDaemonReload === true,
    nRestarts: p.nRestarts ?? 0,
    mainPid: p.mainPid ?? 0,
    invocationId: Buffer.from(Array.isArray(invocation) || invocation instanceof Uint8Array ? invocation : []).toString('hex'),
  };
}

/** systemd's version number (252 on Debian 12). */
export async function systemdVersionOf(bus: SystemdBus): Promise<number> {
  return parseInt(String(await bus.managerProperty('Version')), 10) || 0;
}
