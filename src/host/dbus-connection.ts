/**
 * One D-Bus connection with the two things dbus-next lacks: calls that fail when the
 * connection drops (dbus-next leaves them pending forever) or take too long, and
 * peer-to-peer connections to systemd's private socket (no bus daemon there answers the
 * `Hello` that dbus-next always sends, and its rejection would be an unhandled error).
 *
 * On the private socket the client also sends `BEGIN` in the same write as `AUTH`, as
 * sd-bus clients do. dbus-next sends `BEGIN` only after the server's `OK` and its first
 * message right behind it; when systemd reads both in one go (it is busy, e.g. just after
 * dbus-daemon stopped), its sd-bus server (252) leaves the message unread until more data
 * comes, so the call got no reply and `keel cloud-config apply` at early boot hung.
 */
import { EventEmitter } from 'node:events';
import dbus, { type MessageBus } from 'dbus-next';
import createConnection from 'dbus-next/lib/connection.js';
import MessageBusClass from 'dbus-next/lib/bus.js';
import { KeelError } from '../errors.js';

const { Message, MessageType } = dbus;
type DbusMessage = InstanceType<typeof Message>;

/** systemd's private socket: systemd itself is the peer, available before dbus-daemon runs. */
export const systemdPrivateAddress = 'unix:path=/run/systemd/private';
/** The system bus, through dbus-daemon. */
export const systemBusAddress = 'unix:path=/run/dbus/system_bus_socket';

/** A method call to send: what `call` needs, no more. */
export interface MethodCall {
  destination?: string;
  path: string;
  interface: string;
  member: string;
  signature?: string;
  body?: unknown[];
}

/** True for addresses that reach systemd directly rather than through a bus daemon. */
export function isDirectAddress(address: string): boolean {
  return address.includes('/run/systemd/private');
}

/**
 * An open connection. `closed` resolves (never rejects) with the reason once it is gone;
 * every call still waiting then fails with kind `unavailable`.
 */
export class DbusConnection extends EventEmitter {
  readonly closed: Promise<Error>;
  private readonly pending = new Map<number, (error: Error) => void>();
  private nextCallId = 0;
  private isClosed = false;
  private markClosed!: (reason: Error) => void;

  private constructor(
    readonly address: string,
    readonly direct: boolean,
    readonly bus: MessageBus,
  ) {
    super();
    this.closed = new Promise((resolve) => {
      this.markClosed = resolve;
    });
  }

  /** Connects and authenticates; fails with kind `unavailable` within `timeoutMs`. */
  static async open(address: string, timeoutMs = 5000): Promise<DbusConnection> {
    const direct = isDirectAddress(address);
    const raw = createConnection({ busAddress: address, authMethods: ['EXTERNAL'] });
    if (direct) pipelineBegin(raw.stream);
    const transport = direct ? directShim(raw) : raw;
    const bus = new MessageBusClass(transport);
    const connection = new DbusConnection(address, direct, bus);
    const onGone = (reason: Error) => connection.close(reason);
    raw.on('end', () => onGone(new Error('connection closed by the peer')));
    raw.stream.on('close', () => onGone(new Error('connection closed')));
    bus.on('message', (msg: DbusMessage) => {
      if (msg.type === MessageType.SIGNAL) connection.emit('signal', msg);
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs);
      const fail = (cause: unknown) => {
        clearTimeout(timer);
        connection.close(cause instanceof Error ? cause : new Error(String(cause)));
        reject(new KeelError('unavailable', `d-bus: cannot connect to ${address}: ${describe(cause)}`, { cause }));
      };
      bus.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
      bus.once('error', fail);
    });
    // After the handshake, errors only mean the connection is gone.
    bus.on('error', (error: unknown) => onGone(error instanceof Error ? error : new Error(String(error))));
    return connection;
  }

  get isOpen(): boolean {
    return !this.isClosed;
  }

  /**
   * Sends a method call and resolves with the reply's body. D-Bus errors reject with the
   * dbus-next DBusError (its `type` is the error name); a dropped connection or a timeout
   * rejects with a KeelError of kind `unavailable`.
   */
  async call(call: MethodCall, timeoutMs = 25_000): Promise<unknown[]> {
    if (this.isClosed) throw new KeelError('unavailable', `d-bus: connection to ${this.address} is closed`);
    const msg = new Message({
      destination: this.direct ? undefined : call.destination,
      path: call.path,
      interface: call.interface,
      member: call.member,
      signature: call.signature ?? '',
      body: call.body ?? [],
    });
    const id = this.nextCallId++;
    let timer: NodeJS.Timeout | undefined;
    const aborted = new Promise<never>((_, reject) => {
      this.pending.set(id, reject);
      timer = setTimeout(
        () => reject(new KeelError('unavailable', `d-bus: ${call.member} got no reply in ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      const reply = await Promise.race([this.bus.call(msg), aborted]);
      return (reply?.body ?? []) as unknown[];
    } finally {
      clearTimeout(timer);
      this.pending.delete(id);
    }
  }

  /** Closes the connection; idempotent. Pending calls fail with `reason`. */
  close(reason: Error = new Error('closed by keel')): void {
    if (this.isClosed) return;
    this.isClosed = true;
    for (const reject of this.pending.values()) {
      reject(new KeelError('unavailable', `d-bus: connection to ${this.address} lost: ${reason.message}`, { cause: reason }));
    }
    this.pending.clear();
    try {
      this.bus.disconnect();
    } catch {}
    this.markClosed(reason);
    this.emit('close', reason);
  }
}

/**
 * Wraps a peer-to-peer connection so dbus-next's `Hello` is answered locally (a peer has
 * no bus daemon and no unique names), once the handshake is done so that `open` means
 * authenticated, and everything else goes through untouched.
 */
function directShim(raw: ReturnType<typeof createConnection>): EventEmitter {
  const shim = new EventEmitter() as EventEmitter & { stream: unknown; message(msg: DbusMessage): void };
  shim.stream = raw.stream;
  let authenticated = false;
  raw.once('connect', () => {
    authenticated = true;
  });
  for (const event of ['message', 'error', 'end', 'connect']) {
    raw.on(event, (...args: unknown[]) => shim.emit(event, ...args));
  }
  shim.message = (msg: DbusMessage) => {
    if (msg.interface === 'org.freedesktop.DBus' && msg.member === 'Hello') {
      const replySerial = String(msg.serial);
      const reply = new Message({ type: MessageType.METHOD_RETURN, replySerial, signature: 's', body: [':direct'] });
      const answer = () => setImmediate(() => shim.emit('message', reply));
      if (authenticated) answer();
      else raw.once('connect', answer);
      return;
    }
    raw.message(msg);
  };
  return shim;
}

/**
 * Makes dbus-next's client handshake send `BEGIN` together with `AUTH` (and drops its own
 * later `BEGIN`), so that by the time the server's `OK` arrives the server has read `BEGIN`
 * too and every message after it reaches systemd in a read of its own. The spec allows
 * this pipelining; sd-bus clients do the same.
 */
function pipelineBegin(stream: { write(chunk: unknown, ...rest: unknown[]): boolean }): void {
  const write = stream.write;
  let state: 'auth' | 'begin' = 'auth';
  stream.write = function (this: unknown, chunk: unknown, ...rest: unknown[]): boolean {
    if (state === 'auth' && typeof chunk === 'string' && chunk.startsWith('AUTH ')) {
      state = 'begin';
      return write.call(this, `${chunk}BEGIN\r\n`, ...rest);
    }
    if (state === 'begin' && chunk === 'BEGIN\r\n') {
      stream.write = write;
      const done = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
      if (done) process.nextTick(done);
      return true;
    }
    return write.call(this, chunk, ...rest);
  };
}

function describe(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}
