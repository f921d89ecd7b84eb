/**
 * The reboot lock's status read over etcd's JSON gateway (HTTP/1.1 `POST /v3/kv/txn`, keys and
 * values in base64), for `keel lock status`. Loading the gRPC client (npm `etcd3`: gRPC,
 * protobufjs, node's http2 and tls) costs a one-shot CLI call about 110 ms; the read itself
 * takes under 5 ms. Read-only and small: the semaphore and the holder keys in one transaction
 * (one revision), user/password through `/v3/auth/authenticate`, the same TLS files as the
 * gRPC store. Deadlines as in etcd-store.ts: a short deadline per request, the next endpoint on
 * failure, retries with backoff until the operation's deadline. Errors are classified as
 * etcdError classifies the gRPC client's (refused credentials: 'invalid-input'; everything
 * else: 'unavailable'). When a gateway cannot answer as the gRPC API would (turned off with
 * `--enable-grpc-gateway=false`, or refusing a client certificate's CN as the user while etcd
 * authentication is on, which etcd does on purpose), the status read says so and the caller
 * uses the gRPC client.
 */
import { request as httpRequest, type ClientRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { KeelError } from '../errors.js';
import { jitteredDelayMs, sleep } from '../backoff.js';
import type { EtcdConnection } from './etcd-store.js';
import { readEtcdTlsFiles } from './etcd-tls-files.js';
import { refusedRequestMessage } from './etcd-refusals.js';
import { holderIdOf, holdersPrefix, semaphoreKey } from './group-keys.js';
import type { LockHolder, LockStatus } from './reboot-lock.js';
import { emptySemaphore, parseSemaphore } from './semaphore.js';
import { parseHolderValue } from './wait-queue.js';

/** As the gRPC store's call deadline (etcd-store.ts): well above a loaded machine's round trip. */
const defaultRequestTimeoutMs = 700;
/** An answer is read up to this size: etcd is trusted with the lock, not with this process's memory. */
const maxAnswerBytes = 64 * 1024 * 1024;

/** One key as the gateway returns it, decoded. */
export interface GatewayKeyValue {
  key: string;
  value: string;
}

/** A range to read: one key, or every key under a prefix. */
export interface GatewayRange {
  key: string;
  prefix?: boolean;
}

/** The gateway cannot answer as the gRPC API would: the caller uses the gRPC client. */
const unusable = Symbol('gateway unusable');

/** gRPC codes etcd3 turns into errors named *PermissionDenied* and *Unauthenticated*. */
const permissionDeniedCode = 7;
const unauthenticatedCode = 16;
/** The messages etcdError (and etcd3's error classes) treat as refused credentials. */
const refusedMessage = /authentication failed|permission denied|user name not found|user name is empty|auth(entication)? is not enabled|role is not granted/i;

/**
 * The kind etcdError gives the gRPC client's error for the same gateway answer: refused
 * credentials cannot be fixed by retrying; an expired token can (the next attempt signs in again).
 */
export function gatewayErrorKind(code: number | undefined, message: string): 'invalid-input' | 'unavailable' | 'internal' {
  if (/invalid auth token/i.test(message)) return 'unavailable';
  if (refusedRequestMessage.test(message)) return 'internal';
  return code === permissionDeniedCode || code === unauthenticatedCode || refusedMessage.test(message) ? 'invalid-input' : 'unavailable';
}

/** etcd's end of a prefix range: the prefix with its last byte raised by one. */
function prefixEnd(prefix: string): Buffer {
  const end = Buffer.from(prefix);
  end[end.length - 1]!++;
  return end;
}

const b64 = (b: string | Buffer) => Buffer.from(b).toString('base64');
const text = (v: unknown) => (typeof v === 'string' ? Buffer.from(v, 'base64').toString('utf8') : '');

/** A read-only client of etcd's JSON gateway: transactions of range reads, nothing else. */
export class EtcdGateway {
  private readonly tls: { ca?: Buffer; cert?: Buffer; key?: Buffer } | undefined;
  private readonly timeoutMs: number;
  private token: string | undefined;
  /** The endpoint that answered last; the next read starts there. */
  private next = 0;

  constructor(private readonly connection: EtcdConnection) {
    if (connection.endpoints.length === 0) throw new KeelError('invalid-input', 'endpoints: expected at least one etcd endpoint (http://host:2379), found none');
    this.timeoutMs = connection.callTimeoutMs ?? defaultRequestTimeoutMs;
    const { ca, cert, key } = readEtcdTlsFiles(connection);
    // As etcd3: TLS files mean TLS whatever the endpoint's scheme says.
    this.tls = ca || cert ? { ...(ca ? { ca } : {}), ...(cert ? { cert, key } : {}) } : undefined;
  }

  /** Each request's deadline unless a read names a longer one. */
  get requestTimeoutMs(): number {
    return this.timeoutMs;
  }

  /**
   * Reads `ranges` at one revision, trying each endpoint once from the last that answered, each
   * request within `timeoutMs` (default the connection's). Resolves undefined when the gateway
   * cannot serve it (see the file's comment).
   */
  async read(ranges: GatewayRange[], doing: string, timeoutMs = this.timeoutMs): Promise<GatewayKeyValue[][] | undefined> {
    const success = ranges.map((r) => ({ request_range: { key: b64(r.key), ...(r.prefix ? { range_end: b64(prefixEnd(r.key)) } : {}) } }));
    const endpoints = this.connection.endpoints;
    let last: KeelError | undefined;
    for (let i = 0; i < endpoints.length; i++) {
      const at = (this.next + i) % endpoints.length;
      try {
        const answer = await this.call(endpoints[at]!, '/v3/kv/txn', { success }, doing, true, timeoutMs);
        if (answer === unusable) return undefined;
        this.next = at;
        return rangesOf(answer, ranges.length, doing);
      } catch (error) {
        if (!(error instanceof KeelError) || error.kind !== 'unavailable') throw error;
        last = error;
      }
    }
    throw last!;
  }

  /** One request (after signing in when a user is set); the JSON answer, or `unusable`. */
  private async call(endpoint: string, path: string, body: unknown, doing: string, signIn: boolean, timeoutMs: number): Promise<unknown> {
    if (signIn && this.connection.username && this.token === undefined) {
      const auth = await this.call(endpoint, '/v3/auth/authenticate', { name: this.connection.username, password: this.connection.password ?? '' }, doing, false, timeoutMs);
      if (auth === unusable) return unusable;
      const token = (auth as { token?: unknown }).token;
      if (typeof token !== 'string') throw new KeelError('unavailable', `etcd did not answer ${doing}: its gateway sent no token; retrying may help`);
      this.token = token;
    }
    const { status, text: answer } = await this.post(endpoint, path, JSON.stringify(body), doing, timeoutMs);
    let json: { error?: unknown; message?: unknown; code?: unknown } | undefined;
    try {
      json = JSON.parse(answer) as typeof json;
    } catch {
      json = undefined;
    }
    if (status === 200 && json && typeof json === 'object') return json;
    // No gateway here (404), or etcd's plain-text refusal of a client certificate's CN as the user.
    if (status === 404 || (status === 400 && json === undefined && /CommonName/.test(answer))) return unusable;
    const message = typeof json?.message === 'string' ? json.message : typeof json?.error === 'string' ? json.error : `HTTP ${status} ${answer.slice(0, 200)}`;
    if (/invalid auth token/i.test(message)) this.token = undefined;
    const kind = gatewayErrorKind(typeof json?.code === 'number' ? json.code : undefined, message);
    if (kind === 'internal') throw new KeelError('internal', `etcd refused ${doing}: ${message}`);
    if (kind === 'invalid-input') throw new KeelError('invalid-input', `etcd refused ${doing}: ${message}; check --user/--password or the client certificate`);
    throw new KeelError('unavailable', `etcd did not answer ${doing}: ${message}; retrying may help`);
  }

  /** POSTs `body` with the request deadline; network errors are 'unavailable'. */
  private async post(endpoint: string, path: string, body: string, doing: string, timeoutMs: number): Promise<{ status: number; text: string }> {
    const url = new URL(/^[a-z]+:\/\//i.test(endpoint) ? endpoint : `http://${endpoint}`);
    const secure = this.tls !== undefined || url.protocol === 'https:';
    // node:https loads node's TLS: only when this etcd speaks it.
    const send = secure ? (await import('./etcd-gateway-tls.js')).httpsRequest : httpRequest;
    const options: RequestOptions = {
      method: 'POST',
      protocol: secure ? 'https:' : 'http:',
      hostname: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port || 2379,
      path,
      headers: { 'content-type': 'application/json', ...(this.token && path !== '/v3/auth/authenticate' ? { authorization: this.token } : {}) },
      agent: false,
      ...(secure ? this.tls : {}),
    };
    return new Promise((resolve, reject) => {
      const fail = (error: Error) => reject(new KeelError('unavailable', `etcd did not answer ${doing}: ${url.host}: ${error.message}; retrying may help`, { cause: error }));
      let req: ClientRequest | undefined;
      const timer = setTimeout(() => req?.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      req = send(options, (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > maxAnswerBytes) req?.destroy(new Error(`answer larger than ${maxAnswerBytes} bytes`));
          else chunks.push(c);
        });
        res.on('end', () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') });
        });
        res.on('error', (e) => (clearTimeout(timer), fail(e)));
      });
      req.on('error', (e) => (clearTimeout(timer), fail(e)));
      req.end(body);
    });
  }
}

/** The keys of each range of a txn answer; a malformed answer is 'unavailable' (another member may do better). */
function rangesOf(answer: unknown, count: number, doing: string): GatewayKeyValue[][] {
  const responses = (answer as { responses?: unknown }).responses;
  if (!Array.isArray(responses) || responses.length !== count) throw new KeelError('unavailable', `etcd did not answer ${doing}: its gateway sent ${JSON.stringify(answer).slice(0, 200)}, expected ${count} range answers; retrying may help`);
  return responses.map((r: { response_range?: { kvs?: unknown } } | null) => {
    const kvs = r?.response_range?.kvs ?? [];
    if (!Array.isArray(kvs)) throw new KeelError('unavailable', `etcd did not answer ${doing}: a range answer without a key list; retrying may help`);
    return kvs.map((kv: { key?: unknown; value?: unknown } | null) => ({ key: text(kv?.key), value: text(kv?.value) }));
  });
}

/**
 * The lock's status from its keys, as SemaphoreLock.status makes it: a missing semaphore is
 * one free slot (what the first taker creates), holder times from keel's holder keys, pending
 * grants (`<time> granted <queue key>`) included.
 */
export function lockStatusOf(group: string, semaphoreValue: string | undefined, holderValues: GatewayKeyValue[]): LockStatus {
  const semaphore = semaphoreValue === undefined ? emptySemaphore(1) : parseSemaphore(semaphoreValue, semaphoreKey(group));
  const since = new Map<string, string>();
  for (const { key, value } of holderValues) {
    const id = holderIdOf(group, key);
    const parsed = parseHolderValue(value);
    if (id !== undefined && parsed.since) since.set(id, parsed.since);
  }
  const holders: LockHolder[] = semaphore.holders.map((id) => (since.has(id) ? { id, since: since.get(id)! } : { id }));
  return { group, totalSlots: semaphore.totalSlots, holders };
}

/**
 * The group's status over the gateway, retrying 'unavailable' with backoff until
 * `operationTimeoutMs` (as SemaphoreLock does); undefined when the gateway cannot serve it.
 * Each attempt doubles the request deadline, within what is left of the operation's: a member
 * that always answers a little late (a loaded emulated CPU took over 700 ms in the cluster
 * test) is read on a later attempt, not given up on after every attempt timed out alike.
 */
export async function gatewayLockStatus(connection: EtcdConnection, group: string, options: { operationTimeoutMs: number; random?: () => number }): Promise<LockStatus | undefined> {
  const gateway = new EtcdGateway(connection);
  const key = semaphoreKey(group);
  const deadline = Date.now() + options.operationTimeoutMs;
  for (let attempt = 0; ; attempt++) {
    try {
      const timeoutMs = attemptTimeoutMs(gateway.requestTimeoutMs, attempt, deadline - Date.now());
      const read = await gateway.read([{ key }, { key: holdersPrefix(group), prefix: true }], `reading ${key}`, timeoutMs);
      if (read === undefined) return undefined;
      const [semaphore, holders] = read as [GatewayKeyValue[], GatewayKeyValue[]];
      return lockStatusOf(group, semaphore[0]?.value, holders);
    } catch (error) {
      if (!(error instanceof KeelError) || error.kind !== 'unavailable') throw error;
      if (Date.now() >= deadline) throw new KeelError('unavailable', `reading group '${group}': gave up after ${attempt + 1} attempts: ${error.message}`, { cause: error });
      await sleep(jitteredDelayMs(attempt, options.random ?? Math.random, { initialDelayMs: 25, maxDelayMs: 1000 }));
    }
  }
}

/** The request deadline of attempt `attempt` (from 0): the base doubled each time, within what is left (never below the base). */
export function attemptTimeoutMs(baseMs: number, attempt: number, leftMs: number): number {
  return Math.max(baseMs, Math.min(baseMs * 2 ** Math.min(attempt, 10), leftMs));
}
