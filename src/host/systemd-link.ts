/**
 * The connection half of SystemdBus (systemd-bus.ts): one D-Bus connection to systemd's
 * manager, subscribed to its signals, kept alive across a lost bus or a daemon-reexec, and
 * the calls and job waits made over it. SystemdBus adds the manager's methods on top.
 *
 * Why it is built this way: systemd sends `JobRemoved` when a job finishes, and it can
 * arrive before the reply to the call that queued the job; so the link subscribes once
 * at connect and buffers every `JobRemoved` by job path (job-tracker.ts), and a caller
 * waiting for a job looks in the buffer before waiting. If the connection drops (or systemd
 * re-executes and comes back on the bus) the link reconnects with backoff, subscribes again
 * and emits `reconnect`; calls made meanwhile wait for it, and jobs in flight fail with
 * `unavailable`.
 */
import { EventEmitter } from 'node:events';
import { KeelError } from '../errors.js';
import { DbusConnection, type MethodCall } from './dbus-connection.js';
import { JobTracker, type JobResult } from './job-tracker.js';
import type { PropertiesChange } from './systemd-types.js';
import { errorKindOf, isTransientDbusError, unitNameFromPath, unwrap } from './systemd-values.js';

export const destination = 'org.freedesktop.systemd1';
export const managerPath = '/org/freedesktop/systemd1';
export const managerInterface = 'org.freedesktop.systemd1.Manager';

/** How the link connects and how long it waits; every field set (SystemdBus fills defaults). */
export interface LinkOptions {
  address: string;
  connectTimeoutMs: number;
  /** How long one method call (and waiting for a reconnect) may take. */
  callTimeoutMs: number;
  /** How long to wait for a job to finish. */
  jobTimeoutMs: number;
}

interface SignalMessage {
  path?: string;
  interface?: string;
  member?: string;
  body: unknown[];
}

/** Emits `disconnect` (Error) when the bus goes and `reconnect` (reason) once subscribed again. */
export class SystemdLink extends EventEmitter {
  protected connection: DbusConnection;
  private reconnecting: Promise<void> | undefined;
  private closing = false;
  private readonly jobs = new JobTracker();
  private readonly propertyListeners = new Set<(change: PropertiesChange) => void>();

  protected constructor(
    protected readonly options: LinkOptions,
    connection: DbusConnection,
  ) {
    super();
    this.connection = connection;
  }

  /** Subscribes on the first connection; on failure closes it (an open socket keeps the process alive). */
  protected async start(): Promise<void> {
    try {
      await this.attach(this.connection);
    } catch (error) {
      await this.close();
      throw this.toKeelError(error, 'Subscribe');
    }
  }

  get address(): string {
    return this.options.address;
  }

  /** Calls back on every unit property change systemd signals; returns the unsubscribe. */
  onPropertiesChanged(callback: (change: PropertiesChange) => void): () => void {
    this.propertyListeners.add(callback);
    return () => this.propertyListeners.delete(callback);
  }

  /** Closes the connection; jobs still awaited fail with `unavailable`. */
  async close(): Promise<void> {
    this.closing = true;
    this.jobs.failAll(new KeelError('unavailable', 'systemd: client closed while waiting for a job'));
    this.connection.close();
  }

  /**
   * Sends one call once, never retried, with a lost reply counted as success: for
   * Reexecute, where systemd drops its connections instead of replying.
   */
  protected async callOnceIgnoringLoss(member: string): Promise<void> {
    if (!this.connection.isOpen) await this.awaitReconnect(Date.now() + this.options.callTimeoutMs);
    await this.connection.call({ destination, path: managerPath, interface: managerInterface, member }, this.options.callTimeoutMs).catch((error: unknown) => {
      const name = (error as { type?: string }).type;
      if (!(isTransientDbusError(name) || (error instanceof KeelError && error.kind === 'unavailable'))) throw this.toKeelError(error, member);
    });
  }

  /** Calls a Manager method; `unit` names the unit in error messages. */
  protected async manager(member: string, signature = '', body: unknown[] = [], unit?: string): Promise<unknown[]> {
    return this.call({ path: managerPath, interface: managerInterface, member, signature, body }, unit);
  }

  /**
   * One call to systemd, retried while systemd is away (reconnecting, re-executing) until
   * the call timeout; D-Bus errors become KeelErrors naming the method and the unit.
   */
  protected async call(call: MethodCall, unit?: string): Promise<unknown[]> {
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

  protected toKeelError(error: unknown, member: string, unit?: string): KeelError {
    if (error instanceof KeelError) return error;
    const name = (error as { type?: string }).type;
    const text = (error as { text?: string }).text ?? String(error);
    const subject = unit ? `unit ${unit}` : 'systemd';
    return new KeelError(errorKindOf(name), `systemd: ${member} for ${subject} failed: ${text} (${name ?? 'no error name'})`, { cause: error });
  }

  /** Queues a job with `queue` (which resolves with the job's path) and waits for its JobRemoved. */
  protected async waitForJob(unit: string, queue: () => Promise<unknown[]>): Promise<JobResult> {
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
    connection.on('signal', (msg: SignalMessage) => this.onSignal(msg));
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
    await connection.call({ destination, path: managerPath, interface: managerInterface, member: 'Subscribe' }, this.options.callTimeoutMs).catch((error: unknown) => {
      if ((error as { type?: string }).type !== 'org.freedesktop.systemd1.AlreadySubscribed') throw error;
    });
  }

  private onSignal(msg: SignalMessage): void {
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

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
