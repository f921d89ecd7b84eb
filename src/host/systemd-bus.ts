/**
 * keel's one client for systemd's manager over D-Bus. Use ONE instance per process:
 *
 * ```ts
 * const systemd = await SystemdBus.connect();                 // system bus, or { address }
 * systemd.on('reconnect', (why) => resync());                 // bus dropped or daemon-reexec
 * const off = systemd.onPropertiesChanged((c) => ...);        // units' ActiveState and friends
 * await systemd.daemonReload();
 * const job = await systemd.startUnit('etcd.service');        // waits for the job: job.result === 'done'
 * const run = await systemd.runTransient(['/bin/sh', '-c', 'echo hi']); // run.exitStatus === 0
 * await systemd.close();
 * ```
 *
 * This file holds the manager's methods (jobs, transient runs, unit files, listing and
 * properties); the connection, its reconnects and the waiting for jobs are in
 * systemd-link.ts, whose comment says why `JobRemoved` is buffered from connect on.
 *
 * Addresses: the system bus (default, `unix:path=/run/dbus/system_bus_socket`) or systemd's
 * private socket (`unix:path=/run/systemd/private`, root only, usable before dbus-daemon
 * starts and only from inside systemd's pid namespace).
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { DbusConnection, systemBusAddress, systemdPrivateAddress } from './dbus-connection.js';
import type { JobResult } from './job-tracker.js';
import { SystemdLink, managerInterface, managerPath } from './systemd-link.js';
import type { JobMode, TransientOptions, TransientRun, UnitFileChange, UnitProperties, UnitStatus } from './systemd-types.js';
import {
  execCommand, transientProperties, typesWithOwnInterface, unitFileChangesOf, unitPropertiesOf, unitStatusOf, unwrap, usec,
  type PropertyValue,
} from './systemd-values.js';

export type { JobResult } from './job-tracker.js';
export type * from './systemd-types.js';

/**
 * The address to reach systemd at when none is given: the system bus when its socket is
 * there, else systemd's private socket (early boot, before dbus-daemon has started), else
 * the system bus again so the error names the usual address. `exists` is replaceable in tests.
 */
export function defaultSystemdAddress(exists: (path: string) => boolean = existsSync): string {
  const socketOf = (address: string) => address.slice('unix:path='.length);
  if (exists(socketOf(systemBusAddress))) return systemBusAddress;
  if (exists(socketOf(systemdPrivateAddress))) return systemdPrivateAddress;
  return systemBusAddress;
}

export interface SystemdBusOptions {
  /** D-Bus address; default `defaultSystemdAddress()`: the system bus, or the private socket before dbus runs. */
  address?: string;
  connectTimeoutMs?: number;
  /** How long one method call (and waiting for a reconnect) may take. Default 25 s, as sd-bus. */
  callTimeoutMs?: number;
  /** How long to wait for a job to finish. Default 5 min. */
  jobTimeoutMs?: number;
}

export class SystemdBus extends SystemdLink {
  /** Connects, subscribes to systemd's signals and returns the client. */
  static async connect(options: SystemdBusOptions = {}): Promise<SystemdBus> {
    const full = {
      address: options.address ?? defaultSystemdAddress(),
      connectTimeoutMs: options.connectTimeoutMs ?? 5000,
      callTimeoutMs: options.callTimeoutMs ?? 25_000,
      jobTimeoutMs: options.jobTimeoutMs ?? 300_000,
    };
    const client = new SystemdBus(full, await DbusConnection.open(full.address, full.connectTimeoutMs));
    await client.start();
    return client;
  }

  /** Reloads unit files; resolves once systemd has finished reloading. */
  async daemonReload(): Promise<void> {
    await this.manager('Reload');
  }

  /**
   * Re-executes systemd (after an upgrade of systemd itself). systemd drops its connections
   * instead of replying, so this sends once, never retries, and treats a lost reply as done;
   * the client then subscribes again and emits `reconnect`.
   */
  async daemonReexec(): Promise<void> {
    await this.callOnceIgnoringLoss('Reexecute');
  }

  startUnit(name: string, mode: JobMode = 'replace'): Promise<JobResult> {
    return this.job('StartUnit', name, mode);
  }
  stopUnit(name: string, mode: JobMode = 'replace'): Promise<JobResult> {
    return this.job('StopUnit', name, mode);
  }
  restartUnit(name: string, mode: JobMode = 'replace'): Promise<JobResult> {
    return this.job('RestartUnit', name, mode);
  }
  reloadUnit(name: string, mode: JobMode = 'replace'): Promise<JobResult> {
    return this.job('ReloadUnit', name, mode);
  }
  tryRestartUnit(name: string, mode: JobMode = 'replace'): Promise<JobResult> {
    return this.job('TryRestartUnit', name, mode);
  }
  reloadOrRestartUnit(name: string, mode: JobMode = 'replace'): Promise<JobResult> {
    return this.job('ReloadOrRestartUnit', name, mode);
  }
  reloadOrTryRestartUnit(name: string, mode: JobMode = 'replace'): Promise<JobResult> {
    return this.job('ReloadOrTryRestartUnit', name, mode);
  }

  /** Creates and starts a transient unit; resolves when its start job finishes. */
  async startTransientUnit(
    name: string,
    properties: Record<string, PropertyValue>,
    aux: Array<[string, Array<[string, unknown]>]> = [],
    mode: JobMode = 'fail',
  ): Promise<JobResult> {
    const props = transientProperties(properties);
    return this.waitForJob(name, () =>
      this.manager('StartTransientUnit', 'ssa(sv)a(sa(sv))', [name, mode, props, aux], name),
    );
  }

  /**
   * Runs argv as a oneshot transient service and waits for it to exit. argv[0] should be an
   * absolute path. A failed run is reported in the result, not thrown.
   */
  async runTransient(argv: string[], options: TransientOptions = {}): Promise<TransientRun> {
    const unit = options.name ?? `keel-run-${randomBytes(6).toString('hex')}.service`;
    const properties: Record<string, PropertyValue> = {
      Description: options.description ?? `keel: ${argv.join(' ')}`.slice(0, 200),
      Type: 'oneshot',
      RemainAfterExit: false,
      // systemd expands `$VAR` and `$$` in ExecStart arguments; `$$` keeps a `$` literal.
      ExecStart: execCommand(options.expandEnvironment ? argv : argv.map((arg, i) => (i === 0 ? arg : arg.replace(/\$/g, () => '$$')))),
      ...(options.timeoutMs !== undefined ? { TimeoutStartUSec: usec(options.timeoutMs) } : {}),
      ...options.properties,
    };
    const job = await this.startTransientUnit(unit, properties);
    if (job.result === 'done') return { unit, jobResult: job.result, result: 'success', exitStatus: 0 };
    // A failed oneshot stays loaded in `failed`: read why, then let systemd forget it.
    const props = await this.getUnitProperties(unit);
    await this.resetFailedUnit(unit).catch(() => {});
    const killed = props.execMainCode === 2 || props.execMainCode === 3;
    return {
      unit,
      jobResult: job.result,
      result: props.result ?? 'unknown',
      ...(props.execMainStatus !== undefined ? (killed ? { signal: props.execMainStatus } : { exitStatus: props.execMainStatus }) : {}),
    };
  }

  async enableUnitFiles(files: string[], options: { runtime?: boolean; force?: boolean } = {}): Promise<{ carriesInstallInfo: boolean; changes: UnitFileChange[] }> {
    const [carries, changes] = await this.manager('EnableUnitFiles', 'asbb', [files, !!options.runtime, !!options.force]);
    return { carriesInstallInfo: Boolean(carries), changes: unitFileChangesOf(changes) };
  }
  async disableUnitFiles(files: string[], options: { runtime?: boolean } = {}): Promise<UnitFileChange[]> {
    const [changes] = await this.manager('DisableUnitFiles', 'asb', [files, !!options.runtime]);
    return unitFileChangesOf(changes);
  }
  async maskUnitFiles(files: string[], options: { runtime?: boolean; force?: boolean } = {}): Promise<UnitFileChange[]> {
    const [changes] = await this.manager('MaskUnitFiles', 'asbb', [files, !!options.runtime, !!options.force]);
    return unitFileChangesOf(changes);
  }
  async unmaskUnitFiles(files: string[], options: { runtime?: boolean } = {}): Promise<UnitFileChange[]> {
    const [changes] = await this.manager('UnmaskUnitFiles', 'asb', [files, !!options.runtime]);
    return unitFileChangesOf(changes);
  }

  /** Units systemd has loaded, as `systemctl list-units --all [PATTERN...]`. */
  async listUnits(patterns: string[] = []): Promise<UnitStatus[]> {
    const [rows] = patterns.length > 0 ? await this.manager('ListUnitsByPatterns', 'asas', [[], patterns]) : await this.manager('ListUnits');
    return (rows as unknown[][]).map(unitStatusOf);
  }

  /** One property of the manager itself, e.g. `Version` (`252.39-1~deb12u1`). */
  async managerProperty(name: string): Promise<unknown> {
    const [value] = await this.call({ path: managerPath, interface: 'org.freedesktop.DBus.Properties', member: 'Get', signature: 'ss', body: [managerInterface, name] });
    return unwrap(value);
  }

  /** Loads the unit if needed and reads its properties (a missing unit has loadState `not-found`). */
  async getUnitProperties(name: string): Promise<UnitProperties> {
    const [path] = await this.manager('LoadUnit', 's', [name], name);
    const read = async (iface: string) =>
      unwrap((await this.call({ path: String(path), interface: 'org.freedesktop.DBus.Properties', member: 'GetAll', signature: 's', body: [iface] }, name))[0]) as Record<string, unknown>;
    const type = name.slice(name.lastIndexOf('.') + 1);
    const raw = { ...(await read('org.freedesktop.systemd1.Unit')) };
    if (typesWithOwnInterface.includes(type)) Object.assign(raw, await read(`org.freedesktop.systemd1.${type[0]!.toUpperCase()}${type.slice(1)}`));
    return unitPropertiesOf(name, raw);
  }

  async resetFailedUnit(name: string): Promise<void> {
    await this.manager('ResetFailedUnit', 's', [name], name);
  }

  /** Sends a signal to a unit's processes (`who`: `main`, `control` or `all`). */
  async killUnit(name: string, signal = 15, who: 'main' | 'control' | 'all' = 'all'): Promise<void> {
    await this.manager('KillUnit', 'ssi', [name, who, signal], name);
  }

  /**
   * Queues a unit job (`StartUnit`, `RestartUnit`, ...) and returns its object path without
   * waiting for it, as `systemctl --no-block` does: for a unit whose readiness waits on others.
   */
  async queueJob(method: 'StartUnit' | 'StopUnit' | 'RestartUnit' | 'ReloadUnit' | 'TryRestartUnit' | 'ReloadOrRestartUnit' | 'ReloadOrTryRestartUnit', unit: string, mode: JobMode = 'replace'): Promise<string> {
    const [job] = await this.manager(method, 'ss', [unit, mode], unit);
    return String(job);
  }

  /** Queues a job with `method` and waits for its JobRemoved. */
  private job(method: string, unit: string, mode: JobMode): Promise<JobResult> {
    return this.waitForJob(unit, () => this.manager(method, 'ss', [unit, mode], unit));
  }
}
