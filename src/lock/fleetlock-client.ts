/**
 * A FleetLock client, so a keel node can take its reboot slot from a FleetLock server
 * (keel's own `keel lock serve`, or airlock) instead of etcd. The protocol has no watch,
 * so a waiting client asks again after a jittered interval (Zincati does the same).
 */
import { deadlineSignal } from '../deadline-signal.js';
import { KeelError } from '../errors.js';
import type { Logger } from '../log.js';
import { jitteredDelayMs, sleep } from '../backoff.js';
import { checkGroup } from './group-keys.js';
import { httpCall, type ClientTls } from './http-call.js';
import { protocolHeader, requestBody } from './fleetlock-protocol.js';
import type { AcquireOptions, LockStatus, RebootLock, ReleaseOptions } from './reboot-lock.js';

export interface FleetLockClientOptions {
  /** Base URL; the endpoints are `<url>/v1/pre-reboot` and `<url>/v1/steady-state`. */
  url: string;
  group: string;
  /** Interval between pre-reboot attempts while the semaphore is full. Default 5 s (jittered ±25%). */
  retryIntervalMs?: number;
  /** Deadline of each HTTP request. Default 10 s. */
  requestTimeoutMs?: number;
  /** How long release keeps retrying a server that does not answer. Default 60 s. */
  operationTimeoutMs?: number;
  random?: () => number;
  log?: Logger;
  /** A bearer token for a server started with `--tokens`. */
  token?: string;
  /** TLS: the CA of an https server, and the node's client certificate for one started with `--client-ca`. */
  tls?: ClientTls;
}

type Answer = { status: number; kind?: string; value?: string; body?: unknown };

export class FleetLockClient implements RebootLock {
  private readonly base: string;
  private readonly random: () => number;
  readonly group: string;

  constructor(private readonly options: FleetLockClientOptions) {
    this.base = options.url.replace(/\/+$/, '');
    this.group = checkGroup(options.group);
    this.random = options.random ?? Math.random;
  }

  private async call(method: 'GET' | 'POST', path: string, body: string | undefined, signal?: AbortSignal): Promise<Answer> {
    const deadline = deadlineSignal(this.options.requestTimeoutMs ?? 10_000, signal);
    let res: { status: number; text: string };
    try {
      res = await httpCall(this.base + path, {
        method,
        headers: { [protocolHeader]: 'true', ...(body ? { 'content-type': 'application/json' } : {}), ...(this.options.token ? { authorization: `Bearer ${this.options.token}` } : {}) },
        ...(body ? { body } : {}),
        signal: deadline.signal,
        ...(this.options.tls ? { tls: this.options.tls } : {}),
      });
    } catch (error) {
      if (signal?.aborted) throw error;
      throw new KeelError('unavailable', `fleetlock server ${this.base} did not answer ${path}: ${(error as Error).message}; retrying may help`, { cause: error });
    } finally {
      deadline.clear();
    }
    const text = res.text;
    let data: unknown;
    try {
      data = text ? JSON.parse(text) : undefined;
    } catch {
      data = undefined;
    }
    const d = (data ?? {}) as { kind?: unknown; value?: unknown };
    return { status: res.status, body: data, ...(typeof d.kind === 'string' ? { kind: d.kind } : {}), ...(typeof d.value === 'string' ? { value: d.value } : { value: text.slice(0, 200) }) };
  }

  /** An error answer as KeelError: 4xx (bad header, body, group) cannot be fixed by retrying; 409 is a full semaphore. */
  private fail(what: string, a: Answer): KeelError {
    const detail = `${a.kind ?? `HTTP ${a.status}`}${a.value ? `: ${a.value}` : ''}`;
    if (a.status === 409) return new KeelError('conflict', `${what}: the fleetlock server says the group is full (${detail})`);
    if (a.status >= 400 && a.status < 500 && a.status !== 408 && a.status !== 429) return new KeelError('invalid-input', `${what}: the fleetlock server refused the request (${detail})`);
    return new KeelError('unavailable', `${what}: the fleetlock server failed (${detail}); retrying may help`);
  }

  async acquire(id: string, options: AcquireOptions = {}): Promise<void> {
    const wait = options.wait ?? true;
    const what = `taking a slot in group '${this.group}' for ${id} from ${this.base}`;
    for (let attempt = 0; ; attempt++) {
      let error: KeelError;
      try {
        const a = await this.call('POST', '/v1/pre-reboot', requestBody(id, this.group), options.signal);
        if (a.status === 200) break;
        error = this.fail(what, a);
      } catch (e) {
        if (options.signal?.aborted) throw aborted(what, options.signal);
        error = e as KeelError;
      }
      if (!wait || error.kind === 'invalid-input') throw error;
      const interval = this.options.retryIntervalMs ?? 5000;
      const delay = error.kind === 'conflict' ? interval * (0.75 + this.random() / 2) : Math.min(interval, jitteredDelayMs(attempt, this.random, { initialDelayMs: 100, maxDelayMs: interval }));
      this.options.log?.debug(`${error.message}; asking again in ${Math.round(delay)} ms`);
      try {
        await sleep(delay, options.signal);
      } catch {
        throw aborted(what, options.signal);
      }
    }
    await options.whenGranted?.(false);
  }

  /** FleetLock's request carries nothing of the caller's: riders are never written here. */
  async release(id: string, options: ReleaseOptions = {}): Promise<{ rode: boolean }> {
    const what = `releasing ${id}'s slot in group '${this.group}' at ${this.base}`;
    const deadline = Date.now() + (this.options.operationTimeoutMs ?? 60_000);
    for (let attempt = 0; ; attempt++) {
      let error: KeelError;
      try {
        const a = await this.call('POST', '/v1/steady-state', requestBody(id, this.group), options.signal);
        if (a.status === 200) return { rode: false };
        error = this.fail(what, a);
      } catch (e) {
        if (options.signal?.aborted) throw aborted(what, options.signal);
        error = e as KeelError;
      }
      if (error.kind === 'invalid-input' || Date.now() >= deadline) throw error;
      try {
        await sleep(jitteredDelayMs(attempt, this.random, { initialDelayMs: 100, maxDelayMs: 5000 }), options.signal);
      } catch {
        throw aborted(what, options.signal);
      }
    }
  }

  /** keel's server answers `GET /v1/status`; other FleetLock servers have no status request. */
  async status(options: { signal?: AbortSignal } = {}): Promise<LockStatus> {
    const what = `reading group '${this.group}' from ${this.base}`;
    const a = await this.call('GET', `/v1/status?group=${encodeURIComponent(this.group)}`, undefined, options.signal);
    if (a.status === 200 && typeof a.body === 'object' && a.body !== null && 'holders' in a.body) return a.body as LockStatus;
    if (a.status === 404 || a.status === 405) throw new KeelError('unavailable', `${what}: this FleetLock server has no status request (only keel's does)`);
    throw this.fail(what, a);
  }

  async close(): Promise<void> {}
}

function aborted(what: string, signal: AbortSignal | undefined): KeelError {
  const reason = signal?.reason instanceof Error && signal.reason.name === 'TimeoutError' ? 'timed out' : 'stopped';
  return new KeelError('unavailable', `${what}: ${reason} while waiting`, { cause: signal?.reason });
}
