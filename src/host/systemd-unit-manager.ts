/**
 * The UnitManager the cloud-config applier uses on a live host, on top of the one
 * SystemdBus connection. Unit commands wait for their job and report systemd's job
 * result; the applier decides what a non-`done` result means. D-Bus failures (no such
 * unit, systemd unreachable) are thrown as KeelErrors naming the unit.
 */
import type { UnitCommand } from '../systemd/unit-command.js';
import type { UnitCommandResult, UnitManager } from './unit-manager.js';
import { SystemdBus, type JobResult, type SystemdBusOptions } from './systemd-bus.js';

/** The SystemdBus method behind each unit command. */
const commandMethods: Record<UnitCommand, (bus: SystemdBus, unit: string) => Promise<JobResult>> = {
  start: (bus, unit) => bus.startUnit(unit),
  stop: (bus, unit) => bus.stopUnit(unit),
  restart: (bus, unit) => bus.restartUnit(unit),
  reload: (bus, unit) => bus.reloadUnit(unit),
  'try-restart': (bus, unit) => bus.tryRestartUnit(unit),
  'reload-or-restart': (bus, unit) => bus.reloadOrRestartUnit(unit),
  'reload-or-try-restart': (bus, unit) => bus.reloadOrTryRestartUnit(unit),
};

/** The D-Bus method of each unit command, for a job queued without waiting. */
const jobMethods = {
  start: 'StartUnit',
  stop: 'StopUnit',
  restart: 'RestartUnit',
  reload: 'ReloadUnit',
  'try-restart': 'TryRestartUnit',
  'reload-or-restart': 'ReloadOrRestartUnit',
  'reload-or-try-restart': 'ReloadOrTryRestartUnit',
} as const satisfies Record<UnitCommand, string>;

export class SystemdUnitManager implements UnitManager {
  /** Wraps an existing client; `close()` then leaves it open unless `owned`. */
  constructor(
    readonly bus: SystemdBus,
    private readonly owned = false,
  ) {}

  /**
   * Connects to systemd (the system bus by default, or `options.address`, e.g.
   * `unix:path=/run/systemd/private`) and returns a manager that owns the connection.
   */
  static async connect(options: SystemdBusOptions = {}): Promise<SystemdUnitManager> {
    return new SystemdUnitManager(await SystemdBus.connect(options), true);
  }

  async daemonReload(): Promise<void> {
    await this.bus.daemonReload();
  }

  async runUnitCommand(unit: string, command: UnitCommand, options: { noBlock?: boolean } = {}): Promise<UnitCommandResult> {
    if (options.noBlock) {
      await this.bus.queueJob(jobMethods[command], unit);
      return { unit, command, result: 'queued' };
    }
    const job = await commandMethods[command](this.bus, unit);
    return { unit, command, result: job.result };
  }

  /**
   * Runs argv as the transient service `name` (`.service` added if missing) and waits for it
   * to exit; result `done` when it exited 0, else the job's result (`failed`, `timeout`...).
   */
  async runTransient(name: string, argv: string[]): Promise<UnitCommandResult> {
    const unit = name.includes('.') ? name : `${name}.service`;
    const run = await this.bus.runTransient(argv, { name: unit });
    return { unit, command: 'start', result: run.jobResult };
  }

  async close(): Promise<void> {
    if (this.owned) await this.bus.close();
  }
}

/** A sentence for a unit command that did not end in `done`, for the applier's report. */
export function describeUnitResult(result: UnitCommandResult): string {
  return result.result === 'done'
    ? `unit ${result.unit}: ${result.command} done`
    : `unit ${result.unit}: ${result.command} job ended with result '${result.result}', expected 'done'`;
}
