/**
 * The FleetLock HTTP server (`keel lock serve`), on node:http or node:https, over the same
 * etcd semaphore the nodes use directly, so Zincati clients and keel nodes share one lock.
 * pre-reboot never waits on the server side: a full semaphore is answered at once (409)
 * and the client asks again later, as the protocol intends. Nothing a client sends may
 * end the server: every listener runs under `guarded`, which answers 500 and logs, and
 * anything the HTTP parser refuses is answered 400 by `clientError`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { Socket } from 'node:net';
import { KeelError } from '../errors.js';
import type { Logger } from '../log.js';
import { certificateName, guarded } from '../host/request-guard.js';
import { authorize, identify, type FleetLockAuth } from './fleetlock-auth.js';
import { parseRequest, type FleetLockError } from './fleetlock-protocol.js';
import { GroupLocks } from './group-locks.js';
import { GroupQuota } from './group-quota.js';
import type { LockStore } from './lock-store.js';
import { SemaphoreLock } from './semaphore-lock.js';

export interface FleetLockServerOptions {
  store: LockStore;
  /** Path prefix the endpoints live under, e.g. `/fleetlock`; default none. */
  base?: string;
  defaultSlots?: number;
  maxHoldMs?: number;
  /** How long one request may spend on etcd before answering 503. Default 10 s. */
  requestTimeoutMs?: number;
  /**
   * Groups served: at most this many with a lock object at once (used within
   * `groupIdleMs`), and pre-reboot creates no group in etcd beyond this many. A new group
   * beyond either is answered 429. Default 100.
   */
  maxGroups?: number;
  /** A group's lock object unused this long is dropped. Default 10 minutes. */
  groupIdleMs?: number;
  /** Client authentication; undefined serves anyone (Zincati's mode). */
  auth?: FleetLockAuth;
  log?: Logger;
  now?: () => number;
}

/** TLS files for `startFleetLockServer`: server certificate and key, and the CA that signs client certificates. */
export interface FleetLockTls {
  cert: Buffer;
  key: Buffer;
  clientCa?: Buffer;
}

export const defaultMaxGroups = 100;
export const defaultGroupIdleMs = 10 * 60_000;
const maxBodyBytes = 64 * 1024;

/** The error answer for a KeelError from the lock. */
export function errorAnswer(error: unknown): FleetLockError {
  if (error instanceof KeelError) {
    if (error.kind === 'conflict') return { status: 409, kind: 'semaphore_full', value: error.message };
    if (error.kind === 'unavailable') return { status: 503, kind: 'etcd_unavailable', value: error.message };
    if (error.kind === 'invalid-input') return { status: 500, kind: 'invalid_semaphore', value: error.message };
  }
  return { status: 500, kind: 'internal_error', value: error instanceof Error ? error.message : String(error) };
}

function send(res: ServerResponse, status: number, body?: unknown): void {
  if (res.headersSent || res.destroyed) return;
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Builds the request handler; `startFleetLockServer` wraps it in an http(s).Server. */
export function fleetLockHandler(options: FleetLockServerOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const log = options.log;
  const timeoutMs = options.requestTimeoutMs ?? 10_000;
  const locks = new GroupLocks({
    limit: options.maxGroups ?? defaultMaxGroups,
    idleMs: options.groupIdleMs ?? defaultGroupIdleMs,
    ...(options.now ? { now: options.now } : {}),
    create: (group) => new SemaphoreLock({ store: options.store, group, defaultSlots: options.defaultSlots, maxHoldMs: options.maxHoldMs, log, operationTimeoutMs: timeoutMs }),
  });

  const quota = new GroupQuota(options.store, options.maxGroups ?? defaultMaxGroups);
  const tooMany = (res: ServerResponse, group: string, where: string) => {
    const limit = options.maxGroups ?? defaultMaxGroups;
    log?.warning(`fleetlock: refused group '${group}': ${where} (--max-groups ${limit})`);
    send(res, 429, { kind: 'too_many_groups', value: `the server serves at most ${limit} groups and ${where}; ask again later, or raise --max-groups` });
  };

  const answer = async (req: IncomingMessage, res: ServerResponse, body: string) => {
    const parsed = parseRequest({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body }, options.base ?? '');
    if (!parsed.ok) {
      log?.debug(`fleetlock: ${req.method} ${(req.url ?? '').slice(0, 200)}: ${parsed.error.kind}`);
      return send(res, parsed.error.status, { kind: parsed.error.kind, value: parsed.error.value });
    }
    const { operation, id, group } = parsed;
    const identity = options.auth ? identify(options.auth, { authorization: req.headers.authorization, certificateName: certificateName(req) }) : undefined;
    const refused = authorize(options.auth, identity, operation, id);
    if (refused) {
      log?.info(`fleetlock: ${operation} ${id} in group '${group}' by ${identity ? `${identity.via} ${identity.name}` : 'an unauthenticated client'}: ${refused.kind}`);
      return send(res, refused.status, { kind: refused.kind, value: refused.value });
    }
    const signal = AbortSignal.timeout(timeoutMs);
    // A refused new group must not take a lock object either: ask etcd first.
    if (operation === 'pre-reboot') {
      const allowed = await quota.mayCreate(group, signal).catch((error: unknown) => errorAnswer(error));
      if (allowed === false) return tooMany(res, group, 'etcd holds that many groups already');
      if (allowed !== true) return send(res, allowed.status, { kind: allowed.kind, value: allowed.value });
    }
    const lease = locks.use(group);
    if (!lease) return tooMany(res, group, 'that many are in use');
    try {
      const lock = lease.value;
      const result =
        operation === 'pre-reboot'
          ? await lock.acquire(id, { wait: false, signal })
          : operation === 'steady-state'
            ? await lock.release(id, { signal })
            : await lock.status({ signal });
      if (operation !== 'status') log?.info(`fleetlock: ${operation} ${id} in group '${group}': ok`);
      send(res, 200, result ?? {});
    } catch (error) {
      const e = errorAnswer(error);
      log?.info(`fleetlock: ${operation} ${id} in group '${group}': ${e.kind}: ${e.value}`);
      send(res, e.status, { kind: e.kind, value: e.value });
    } finally {
      lease.done();
    }
  };

  return (req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('error', guarded(res, 'fleetlock', log, (error: Error) => log?.debug(`fleetlock: request stream: ${error.message}`)));
    res.on('error', guarded(res, 'fleetlock', log, (error: Error) => log?.debug(`fleetlock: response stream: ${error.message}`)));
    req.on(
      'data',
      guarded(res, 'fleetlock', log, (chunk: Buffer) => {
        if (size > maxBodyBytes) return;
        size += chunk.length;
        if (size > maxBodyBytes) {
          send(res, 413, { kind: 'body_too_large', value: `expected a body under ${maxBodyBytes} bytes` });
          req.destroy();
        } else chunks.push(chunk);
      }),
    );
    req.on(
      'end',
      guarded(res, 'fleetlock', log, () => (res.headersSent ? undefined : answer(req, res, Buffer.concat(chunks).toString('utf8')))),
    );
  };
}

/** Answers what the HTTP parser refuses (a malformed request line, headers too large) with a 4xx, then closes. */
function onClientError(log: Logger | undefined) {
  return (error: NodeJS.ErrnoException, socket: Socket) => {
    try {
      log?.debug(`fleetlock: refused a malformed request: ${error.code ?? error.message}`);
      if (!socket.writable || (error as { code?: string }).code === 'ECONNRESET') return socket.destroy();
      const [status, reason] = error.code === 'HPE_HEADER_OVERFLOW' ? [431, 'Request Header Fields Too Large'] : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'Request Timeout'] : [400, 'Bad Request'];
      const body = JSON.stringify({ kind: 'bad_request', value: `the request could not be parsed (${error.code ?? 'malformed'})` });
      socket.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
    } catch {
      socket.destroy();
    }
  };
}

/** Starts listening on `host:port` (port 0 = any free port), over TLS when `tls` is given; resolves with the server and its URL. */
export async function startFleetLockServer(options: FleetLockServerOptions, host: string, port: number, tls?: FleetLockTls): Promise<{ server: Server; url: string }> {
  const handler = fleetLockHandler(options);
  // A FleetLock request is a few hundred bytes: a client that has not sent its headers in
  // 10 s or its whole request in 30 s is answered 408 and dropped (Node's defaults, 60 s
  // and 300 s checked every 30 s, let slow clients hold connections for minutes).
  const timeouts = { headersTimeout: 10_000, requestTimeout: 30_000, connectionsCheckingInterval: 1000 };
  const server: Server = tls
    ? // Unverified certificates are not refused during the handshake: a client may use a token instead.
      createTlsServer({ ...timeouts, cert: tls.cert, key: tls.key, ...(tls.clientCa ? { ca: tls.clientCa, requestCert: true, rejectUnauthorized: false } : {}) }, handler)
    : createServer(timeouts, handler);
  server.on('clientError', onClientError(options.log));
  // Without a listener Node drops a CONNECT request silently: answer it like any wrong method.
  server.on('connect', (_req: IncomingMessage, socket: Socket) => {
    const body = JSON.stringify({ kind: 'method_not_allowed', value: 'expected GET or POST, found CONNECT' });
    socket.on('error', () => undefined);
    socket.end(`HTTP/1.1 405 Method Not Allowed\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  });
  server.on('tlsClientError', (error: Error) => options.log?.debug(`fleetlock: TLS handshake failed: ${error.message}`));
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => reject(new KeelError('io', `cannot listen on ${host}:${port}: ${error.message}`, { cause: error })));
    try {
      server.listen(port, host, () => resolve());
    } catch (error) {
      reject(new KeelError('usage', `cannot listen on ${host}:${port}: ${(error as Error).message}`, { cause: error }));
    }
  });
  // After the start, a server error (EMFILE on accept) is logged, not fatal.
  server.on('error', (error) => options.log?.error(`fleetlock: server error: ${error.message}`));
  const address = server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return { server, url: `${tls ? 'https' : 'http'}://${shownHost}:${actualPort}${options.base ?? ''}` };
}
