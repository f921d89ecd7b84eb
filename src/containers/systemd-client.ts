/**
 * The supervisor's systemd edge: one long-lived dbus-next connection to the system bus.
 * It subscribes before calling (JobRemoved can arrive before a method's reply, so removed
 * jobs are buffered by path), waits for each job's result, reports units' state changes
 * from PropertiesChanged, and notices when systemd re-execs (its bus name changes owner)
 * or the bus drops, so the supervisor can resubscribe or reconnect and resynchronise.
 */
import { EventEmitter } from 'node:events';
import dbus, { type MessageBus } from 'dbus-next';
import { KeelError } from '../errors.js';
import type { UnitControl } from './plan-executor.js';

const { Message, MessageType } = dbus;
const systemd = 'org.freedesktop.systemd1';
const managerPath = '/org/freedesktop/systemd1';
const managerIface = 'org.freedesktop.systemd1.Manager';
const propsIface = 'org.freedesktop.DBus.Properties';

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

/** Decodes a unit object path's last element (`keel_2dcontainer_2da_2eservice`) to the unit name. */
export function unitNameFromPath(path: string): string {
  const last = path.slice(path.lastIndexOf('/') + 1);
  return last.replace(/_([0-9a-f]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

function plain(v: unknown): unknown {
  return v && typeof v === 'object' && 'value' in v && 'signature' in v ? (v as { value: unknown }).value : v;
}

/**
 * Events: `unit` (name, changed property record) on PropertiesChanged of any unit;
 * `reexec` when systemd's bus name got a new owner; `closed` (Error) when the bus is gone.
 */
export class SystemdClient extends EventEmitter implements UnitControl {
  private readonly removedJobs = new Map<string, string>();
  private readonly jobWaiters = new Map<string, (result: string) => void>();
  private closedReason: Error | undefined;

  private constructor(
    readonly address: string,
    private readonly bus: MessageBus,
  ) {
    super();
    this.setMaxListeners(0);
  }

  /** Connects to the bus at `address` and subscribes to systemd's signals; fails with kind `unavailable`. */
  static async connect(address: string, timeoutMs = 5000): Promise<SystemdClient> {
    const bus = dbus.sessionBus({ busAddress: address });
    const client = new SystemdClient(address, bus);
    const connected = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs);
      bus.once('connect', () => (clearTimeout(timer), resolve()));
      bus.once('error', (e: Error) => (clearTimeout(timer), reject(e)));
    });
    try {
      await connected;
    } catch (cause) {
      bus.disconnect();
      throw new KeelError('unavailable', `d-bus: cannot connect to ${address}: ${(cause as Error).message}; is the system bus running?`, { cause });
    }
    bus.on('error', (e: Error) => client.gone(e));
    const connection = (bus as unknown as { _connection: EventEmitter & { stream: EventEmitter } })._connection;
    connection.on('end', () => client.gone(new Error('the bus closed the connection')));
    connection.stream.on('close', () => client.gone(new Error('the bus connection closed')));
    bus.on('message', (msg: InstanceType<typeof Message>) => msg.type === MessageType.SIGNAL && client.onSignal(msg));
    for (const rule of [
      `type='signal',sender='${systemd}',path='${managerPath}',interface='${managerIface}',member='JobRemoved'`,
      `type='signal',sender='${systemd}',interface='${propsIface}',member='PropertiesChanged',path_namespace='${managerPath}/unit'`,
      `type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',member='NameOwnerChanged',arg0='${systemd}'`,
    ])
      await client.call({ destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', iface: 'org.freedesktop.DBus', member: 'AddMatch', signature: 's', body: [rule] });
    await client.subscribe();
    return client;
  }

  /** Asks systemd to send unit and job signals (needed again after a daemon-reexec). */
  async subscribe(): Promise<void> {
    await this.manager('Subscribe');
  }

  get closed(): Error | undefined {
    return this.closedReason;
  }

  private gone(reason: Error): void {
    if (this.closedReason) return;
    this.closedReason = reason;
    this.emit('closed', reason);
  }

  private onSignal(msg: InstanceType<typeof Message>): void {
    if (msg.member === 'JobRemoved') {
      const [, jobPath, , result] = msg.body as [number, string, string, string];
      const waiter = this.jobWaiters.get(jobPath);
      if (waiter) waiter(result);
      else {
        this.removedJobs.set(jobPath, result);
        // Keep the buffer small: only jobs whose reply is still in flight matter.
        if (this.removedJobs.size > 256) this.removedJobs.delete(this.removedJobs.keys().next().value as string);
      }
    } else if (msg.member === 'PropertiesChanged' && msg.path) {
      const [iface, changed] = msg.body as [string, Record<string, unknown>];
      if (iface !== 'org.freedesktop.systemd1.Unit' && iface !== 'org.freedesktop.systemd1.Service') return;
      const values = Object.fromEntries(Object.entries(changed).map(([k, v]) => [k, plain(v)]));
      this.emit('unit', unitNameFromPath(msg.path), values);
    } else if (msg.member === 'NameOwnerChanged') {
      const [, , newOwner] = msg.body as [string, string, string];
      if (newOwner) this.emit('reexec');
    }
  }

  /** One method call with a deadline; a call the dropped bus never answers fails with `unavailable`. */
  async call(c: { destination?: string; path: string; iface: string; member: string; signature?: string; body?: unknown[] }, timeoutMs = 30_000): Promise<unknown[]> {
    if (this.closedReason) throw new KeelError('unavailable', `d-bus: ${c.member}: connection lost (${this.closedReason.message})`);
    const msg = new Message({ destination: c.destination ?? systemd, path: c.path, interface: c.iface, member: c.member, signature: c.signature ?? '', body: c.body ?? [] });
    let timer: NodeJS.Timeout | undefined;
    let onClosed: ((e: Error) => void) | undefined;
    const failure = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new KeelError('unavailable', `d-bus: ${c.member}: no reply in ${timeoutMs} ms`)), timeoutMs);
      onClosed = (e: Error) => reject(new KeelError('unavailable', `d-bus: ${c.member}: connection lost (${e.message})`));
      this.once('closed', onClosed);
    });
    try {
      const reply = await Promise.race([this.bus.call(msg), failure]);
      return (reply?.body ?? []) as unknown[];
    } catch (error) {
      if (error instanceof KeelError) throw error;
      const text = (error as { text?: string; message?: string }).text ?? (error as Error).message;
      throw new KeelError((error as { type?: string }).type?.endsWith('NoSuchUnit') ? 'not-found' : 'io', `systemd: ${c.member} ${c.body?.[0] ?? ''}: ${text}`, { cause: error });
    } finally {
      clearTimeout(timer);
      if (onClosed) this.off('closed', onClosed);
    }
  }

  private manager(member: string, signature = '', body: unknown[] = []): Promise<unknown[]> {
    return this.call({ path: managerPath, iface: managerIface, member, signature, body });
  }

  /** Runs a job method (StartUnit, StopUnit, RestartUnit) and waits for JobRemoved; returns its result. */
  async job(member: 'StartUnit' | 'StopUnit' | 'RestartUnit', unit: string, mode = 'replace', timeoutMs = 180_000): Promise<string> {
    const [jobPath] = (await this.manager(member, 'ss', [unit, mode])) as [string];
    const early = this.removedJobs.get(jobPath);
    if (early !== undefined) {
      this.removedJobs.delete(jobPath);
      return early;
    }
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => done(() => reject(new KeelError('unavailable', `systemd: ${member} ${unit}: job did not finish in ${timeoutMs} ms`))), timeoutMs);
      const onClosed = (e: Error) => done(() => reject(new KeelError('unavailable', `systemd: ${member} ${unit}: connection lost (${e.message})`)));
      const done = (settle: () => void) => {
        clearTimeout(timer);
        this.jobWaiters.delete(jobPath);
        this.off('closed', onClosed);
        settle();
      };
      this.jobWaiters.set(jobPath, (result) => done(() => resolve(result)));
      this.once('closed', onClosed);
    });
  }

  start(unit: string): Promise<string> {
    return this.job('StartUnit', unit);
  }
  restart(unit: string): Promise<string> {
    return this.job('RestartUnit', unit);
  }
  /** Restarts without touching units that require this one (a backoff restart must not restart its dependents). */
  restartAlone(unit: string): Promise<string> {
    return this.job('RestartUnit', unit, 'ignore-dependencies');
  }
  stop(unit: string): Promise<string> {
    return this.job('StopUnit', unit);
  }
  async daemonReload(): Promise<void> {
    // systemd replies to Reload once the reload is complete.
    await this.call({ path: managerPath, iface: managerIface, member: 'Reload' }, 120_000);
  }
  async resetFailed(unit: string): Promise<void> {
    await this.manager('ResetFailedUnit', 's', [unit]).catch((e: unknown) => {
      if (!(e instanceof KeelError && e.kind === 'not-found')) throw e;
    });
  }

  /** systemd's version number (252 on Debian 12). */
  async version(): Promise<number> {
    const [v] = (await this.call({ path: managerPath, iface: propsIface, member: 'Get', signature: 'ss', body: [managerIface, 'Version'] })) as [unknown];
    return parseInt(String(plain(v)), 10) || 0;
  }

  /** Loaded units whose name matches the glob patterns. */
  async listUnits(patterns: string[]): Promise<{ name: string; loadState: string; activeState: string; subState: string }[]> {
    const [rows] = (await this.manager('ListUnitsByPatterns', 'asas', [[], patterns])) as [unknown[][]];
    return rows.map((r) => ({ name: String(r[0]), loadState: String(r[2]), activeState: String(r[3]), subState: String(r[4]) }));
  }

  /** A unit's state; loads the unit if systemd does not have it (LoadState then says `not-found`). */
  async unitState(unit: string): Promise<UnitState> {
    const [path] = (await this.manager('LoadUnit', 's', [unit])) as [string];
    const [u] = (await this.call({ path, iface: propsIface, member: 'GetAll', signature: 's', body: ['org.freedesktop.systemd1.Unit'] })) as [Record<string, unknown>];
    const [s] = (await this.call({ path, iface: propsIface, member: 'GetAll', signature: 's', body: ['org.freedesktop.systemd1.Service'] }).catch(() => [{}])) as [Record<string, unknown>];
    const get = (r: Record<string, unknown>, k: string) => plain(r[k]);
    return {
      name: unit,
      loadState: String(get(u, 'LoadState') ?? ''),
      activeState: String(get(u, 'ActiveState') ?? ''),
      subState: String(get(u, 'SubState') ?? ''),
      result: String(get(s, 'Result') ?? ''),
      needDaemonReload: get(u, 'NeedDaemonReload') === true,
      nRestarts: Number(get(s, 'NRestarts') ?? 0),
      mainPid: Number(get(s, 'MainPID') ?? 0),
      invocationId: Buffer.from((get(u, 'InvocationID') as number[] | Buffer | undefined) ?? []).toString('hex'),
    };
  }

  /** Reads one property of a unit's Service interface, e.g. `MemoryMax`. */
  async serviceProperty(unit: string, property: string): Promise<unknown> {
    const [path] = (await this.manager('LoadUnit', 's', [unit])) as [string];
    const [v] = (await this.call({ path, iface: propsIface, member: 'Get', signature: 'ss', body: ['org.freedesktop.systemd1.Service', property] })) as [unknown];
    return plain(v);
  }

  close(): void {
    this.gone(new Error('closed by keel'));
    this.bus.disconnect();
  }
}
