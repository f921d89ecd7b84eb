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
 * Why it is built this way: systemd sends `JobRemoved` when a job finishes, and it can
 * arrive before the reply to the call that queued the job; so the client subscribes once
 * at connect and buffers every `JobRemoved` by job path, and a caller waiting for a job
 * looks in the buffer before waiting. If the connection drops (or systemd re-executes and
 * comes back on the bus) the client reconnects with backoff, subscribes again and emits
 * `reconnect`; calls made meanwhile wait for it, and jobs in flight fail with `unavailable`.
 *
 * Addresses: the system bus (default, `unix:path=/run/dbus/system_bus_socket`) or systemd's
 * private socket (`unix:path=/run/systemd/private`, root only, usable before dbus-daemon
 * starts and only from inside systemd's pid namespace).
 */
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { KeelError } from '../errors.js';
import { DbusConnection, systemBusAddress, systemdPrivateAddress, type MethodCall } from './dbus-connection.js';
import { JobTracker, type JobResult } from './job-tracker.js';
import type {
  JobMode, PropertiesChange, TransientOptions, TransientRun, UnitFileChange, UnitProperties, UnitStatus,
} from './systemd-types.js';
import {
  errorKindOf, execCommand, isTransientDbusError, transientProperties, unitNameFromPath, unwrap, usec,
  type PropertyValue,
} from './systemd-values.js';

export type { JobResult } from './job-tracker.js';
export type * from './systemd-types.js';

const destination = 'org.freedesktop.systemd1';
const managerPath = '/org/freedesktop/systemd1';
const managerInterface = 'org.freedesktop.systemd1.Manager';

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

export class SystemdBus extends EventEmitter {
  private connection: DbusConnection;
  private reconnecting: Promise<void> | undefined;
  private closing = false;
  private readonly jobs = new JobTracker();
  private readonly propertyListeners = new Set<(change: PropertiesChange) => void>();

  private constructor(private readonly options: Required<SystemdBusOptions>, connection: DbusConnection) {
    super();
    this.connection = connection;
  }

  /** Connects, subscribes to systemd's signals and returns the client. */
  static async connect(options: SystemdBusOptions = {}): Promise<SystemdBus> {
    const full: Required<SystemdBusOptions> = {
      address: options.address ?? defaultSystemdAddress(),
      connectTimeoutMs: options.connectTimeoutMs ?? 5000,
      callTimeoutMs: options.callTimeoutMs ?? 25_000,
      jobTimeoutMs: options.jobTimeoutMs ?? 300_000,
    };
    const client = new SystemdBus(full, await DbusConnection.open(full.address, full.connectTimeoutMs));
    try {
      await client.attach(client.connection);
    } catch (error) {
      // Left open, the socket would keep the process alive (and start a reconnect loop).
      await client.close();
      throw client.toKeelError(error, 'Subscribe');
    }
    return client;
  }

  get address(): string {
    return this.options.address;
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
    if (!this.connection.isOpen) await this.awaitReconnect(Date.now() + this.options.callTimeoutMs);
    await this.connection
      .call({ destination, path: managerPath, interface: managerInterface, member: 'Reexecute' }, this.options.callTimeoutMs)
      .catch((error: unknown) => {
        const name = (error as { type?: string }).type;
        if (!(isTransientDbusError(name) || (error instanceof KeelError && error.kind === 'unavailable'))) {
          throw this.toKeelError(error, 'Reexecute');
        }
      });
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
    return { carriesInstallInfo: Boolean(carries), changes: fileChanges(changes) };
  }
  async disableUnitFiles(files: string[], options: { runtime?: boolean } = {}): Promise<UnitFileChange[]> {
    const [changes] = await this.manager('DisableUnitFiles', 'asb', [files, !!options.runtime]);
    return fileChanges(changes);
  }
  async maskUnitFiles(files: string[], options: { runtime?: boolean; force?: boolean } = {}): Promise<UnitFileChange[]> {
    const [changes] = await this.manager('MaskUnitFiles', 'asbb', [files, !!options.runtime, !!options.force]);
    return fileChanges(changes);
  }
  async unmaskUnitFiles(files: string[], options: { runtime?: boolean } = {}): Promise<UnitFileChange[]> {
    const [changes] = await this.manager('UnmaskUnitFiles', 'asb', [files, !!options.runtime]);
    return fileChanges(changes);
  }

  /** Units systemd has loaded, as `systemctl list-units --all [PATTERN...]`. */
  async listUnits(patterns: string[] = []): Promise<UnitStatus[]> {
    const [rows] = patterns.length > 0 ? await this.manager('ListUnitsByPatterns', 'asas', [[], patterns]) : await this.manager('ListUnits');
    return (rows as unknown[][]).map((r) => ({
      name: String(r[0]), description: String(r[1]), loadState: String(r[2]),
      activeState: String(r[3]), subState: String(r[4]), jobId: Number(r[7]),
    }));
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
    if (['service', 'socket', 'mount', 'swap', 'scope'].includes(type)) {
      Object.assign(raw, await read(`org.freedesktop.systemd1.${type[0]!.toUpperCase()}${type.slice(1)}`));
    }
    const num = (k: string) => (typeof raw[k] === 'number' ? (raw[k] as number) : undefined);
    const props: UnitProperties = {
      name, raw,
      loadState: String(raw.LoadState), activeState: String(raw.ActiveState), subState: String(raw.SubState),
    };
    if (typeof raw.Result === 'string') props.result = raw.Result;
    for (const [key, prop] of [['nRestarts', 'NRestarts'], ['mainPid', 'MainPID'], ['execMainStatus', 'ExecMainStatus'], ['execMainCode', 'ExecMainCode']] as const) {
      const value = num(prop);
      if (value !== undefined) props[key] = value;
    }
    return props;
  }

  /** Calls back on every unit property change systemd signals; returns the unsubscribe. */
  onPropertiesChanged(callback: (change: PropertiesChange) => void): () => void {
    this.propertyListeners.add(callback);
    return () => this.propertyListeners.delete(callback);
  }

  async resetFailedUnit(name: string): Promise<void> {
    await this.manager('ResetFailedUnit', 's', [name], name);
  }

  /** Sends a signal to a unit's processes (`who`: `main`, `control` or `all`). */
  async killUnit(name: string, signal = 15, who: 'main' | 'control' | 'all' = 'all'): Promise<void> {
    await this.manager('KillUnit', 'ssi', [name, who, signal], name);
  }

  /** Closes the connection; jobs still awaited fail with `unavailable`. */
  async close(): Promise<void> {
    this.closing = true;
    this.jobs.failAll(new KeelError('unavailable', 'systemd: client closed while waiting for a job'));
    this.connection.close();
  }

  /** Calls a Manager method; `unit` names the unit in error messages. */
  private async manager(member: string, signature = '', body: unknown[] = [], unit?: string): Promise<unknown[]> {
    return this.call({ path: managerPath, interface: managerInterface, member, signature, body }, unit);
  }

  /**
   * One call to systemd, retried while systemd is away (reconnecting, re-executing) until
   * the call timeout; D-Bus errors become KeelErrors naming the method and the unit.
   */
  private async call(call: MethodCall, unit?: string): Promise<unknown[]> {
    const deadline = Date.now() + this.options.callTimeoutMs;
    for (let delayMs = 50; ; delayMs = Math.min(delayMs * 2, 1000)) {
      try {
        if (!this.connection.isOpen) await this.awaitReconnect(deadline);
        return await this.connection.call({ ...call, destination }, Math.max(1, deadline - Date.now()));
      } catch (error) {
        const name = (error as { type?: string }).type;
        const transient = isTransientDbusError(name) || (error instanceof KeelError && error.kind === 'unavailable');
        if (!transient || this.closing || Date.now() + delayMs >= deadline) throw this.toKeelError(error, call.member, unit);
        await sleep(delayMs);
      }
    }
  }

  private toKeelError(error: unknown, member: string, unit?: string): KeelError {
    if (error instanceof KeelError) return error;
    const name = (error as { type?: string }).type;
    const text = (error as { text?: string }).text ?? String(error);
    const subject = unit ? `unit ${unit}` : 'systemd';
    return new KeelError(errorKindOf(name), `systemd: ${member} for ${subject} failed: ${text} (${name ?? 'no error name'})`, { cause: error });
  }

  /** Queues a job with `method` and waits for its JobRemoved. */
  private job(method: string, unit: string, mode: JobMode): Promise<JobResult> {
    return this.waitForJob(unit, () => this.manager(method, 'ss', [unit, mode], unit));
  }

  private async waitForJob(unit: string, queue: () => Promise<unknown[]>): Promise<JobResult> {
    const [path] = await queue();
    const job = String(path);
    const waiting = this.jobs.wait(job, unit, this.options.jobTimeoutMs);
    if (!this.connection.isOpen) {
      // The JobRemoved, if it had not come yet, went down with the connection.
      this.jobs.failAll(new KeelError('unavailable', 'systemd: connection lost before the job finished; its result is unknown'));
    }
    return waiting;
  }

  /** Listens for signals on a fresh connection and subscribes; called at connect and reconnect. */
  private async attach(connection: DbusConnection): Promise<void> {
    connection.on('signal', (msg: { path?: string; interface?: string; member?: string; body: unknown[] }) => this.onSignal(msg));
    connection.once('close', (reason: Error) => this.onClose(connection, reason));
    if (!connection.direct) {
      for (const rule of [
        `type='signal',sender='${destination}',interface='${managerInterface}'`,
        `type='signal',sender='${destination}',interface='org.freedesktop.DBus.Properties',member='PropertiesChanged'`,
        `type='signal',sender='org.freedesktop.DBus',member='NameOwnerChanged',arg0='${destination}'`,
      ]) {
        await connection.call({ destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus', member: 'AddMatch', signature: 's', body: [rule] });
      }
    }
    await this.subscribe(connection);
  }

  private async subscribe(connection: DbusConnection): Promise<void> {
    await connection
      .call({ destination, path: managerPath, interface: managerInterface, member: 'Subscribe' }, this.options.callTimeoutMs)
      .catch((error: unknown) => {
        if ((error as { type?: string }).type !== 'org.freedesktop.systemd1.AlreadySubscribed') throw error;
      });
  }

  private onSignal(msg: { path?: string; interface?: string; member?: string; body: unknown[] }): void {
    if (msg.interface === managerInterface && msg.member === 'JobRemoved') {
      const [, job, unit, result] = msg.body as [number, string, string, string];
      this.jobs.jobRemoved({ unit, job, result });
    } else if (msg.interface === 'org.freedesktop.DBus.Properties' && msg.member === 'PropertiesChanged') {
      const unit = unitNameFromPath(msg.path ?? '');
      if (!unit || this.propertyListeners.size === 0) return;
      const [iface, changed, invalidated] = msg.body as [string, Record<string, unknown>, string[]];
      const change = { unit, interface: iface, changed: unwrap(changed) as Record<string, unknown>, invalidated };
      for (const listener of this.propertyListeners) listener(change);
    } else if (msg.member === 'NameOwnerChanged' && msg.body[0] === destination && msg.body[2]) {
      // systemd came back on the bus after re-executing: its subscriptions are gone.
      this.jobs.failAll(new KeelError('unavailable', 'systemd: re-executed while a job was awaited; its result is unknown'));
      const connection = this.connection;
      void this.subscribe(connection).then(
        () => this.emit('reconnect', 'systemd re-executed'),
        // Could not subscribe again: start over with a fresh connection.
        (error: unknown) => connection.close(error instanceof Error ? error : new Error(String(error))),
      );
    }
  }

  private onClose(connection: DbusConnection, reason: Error): void {
    if (connection !== this.connection || this.closing) return;
    this.jobs.failAll(new KeelError('unavailable', `systemd: connection lost while a job was awaited (${reason.message}); its result is unknown`));
    this.emit('disconnect', reason);
    this.reconnecting = this.reconnect();
  }

  private async reconnect(): Promise<void> {
    for (let delayMs = 100; !this.closing; delayMs = Math.min(delayMs * 2, 5000)) {
      let connection: DbusConnection | undefined;
      try {
        connection = await DbusConnection.open(this.options.address, this.options.connectTimeoutMs);
        if (this.closing) return connection.close();
        // Made current only once subscribed: closing a half-attached connection here must
        // not look like a lost current one (onClose would start a second reconnect loop).
        await this.attach(connection);
        if (this.closing || !connection.isOpen) throw new Error('connection closed while subscribing');
        this.connection = connection;
        this.reconnecting = undefined;
        this.emit('reconnect', 'the bus connection was restored');
        return;
      } catch {
        connection?.close();
        await sleep(delayMs);
      }
    }
  }

  private async awaitReconnect(deadline: number): Promise<void> {
    if (this.closing) throw new KeelError('unavailable', 'systemd: client is closed');
    const reconnecting = this.reconnecting ?? Promise.resolve();
    let timer: NodeJS.Timeout | undefined;
    const giveUp = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
    });
    await Promise.race([reconnecting, giveUp]);
    clearTimeout(timer);
    if (!this.connection.isOpen) throw new KeelError('unavailable', `systemd: no connection to ${this.options.address}`);
  }
}

function fileChanges(value: unknown): UnitFileChange[] {
  return ((value ?? []) as unknown[][]).map(([type, file, dest]) => ({ type: String(type), file: String(file), destination: String(dest) }));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
