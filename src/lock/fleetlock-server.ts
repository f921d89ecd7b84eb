/**
 * The FleetLock HTTP server (`keel lock serve`), on node:http, over the same etcd semaphore
 * the nodes use directly, so Zincati clients and keel nodes share one lock. pre-reboot
 * never waits on the server side: a full semaphore is answered at once (409) and the
 * client asks again later, as the protocol intends.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { KeelError } from '../errors.js';
import type { Logger } from '../log.js';
import { parseRequest, type FleetLockError } from './fleetlock-protocol.js';
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
  log?: Logger;
}

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

/** Builds the request handler; `createFleetLockServer` wraps it in an http.Server. */
export function fleetLockHandler(options: FleetLockServerOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const locks = new Map<string, SemaphoreLock>();
  const lockFor = (group: string) => {
    let lock = locks.get(group);
    if (!lock) {
      lock = new SemaphoreLock({ store: options.store, group, defaultSlots: options.defaultSlots, maxHoldMs: options.maxHoldMs, log: options.log, operationTimeoutMs: options.requestTimeoutMs ?? 10_000 });
      locks.set(group, lock);
    }
    return lock;
  };
  const send = (res: ServerResponse, status: number, body?: unknown) => {
    const text = body === undefined ? '' : JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };
  return (req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBodyBytes) {
        send(res, 413, { kind: 'body_too_large', value: `expected a body under ${maxBodyBytes} bytes` });
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on('end', () => {
      if (res.headersSent) return;
      const parsed = parseRequest({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') }, options.base ?? '');
      if (!parsed.ok) {
        options.log?.debug(`fleetlock: ${req.method} ${req.url}: ${parsed.error.kind}`);
        return send(res, parsed.error.status, { kind: parsed.error.kind, value: parsed.error.value });
      }
      const lock = lockFor(parsed.group);
      const signal = AbortSignal.timeout(options.requestTimeoutMs ?? 10_000);
      const work =
        parsed.operation === 'pre-reboot'
          ? lock.acquire(parsed.id, { wait: false, signal }).then(() => undefined)
          : parsed.operation === 'steady-state'
            ? lock.release(parsed.id, { signal }).then(() => undefined)
            : lock.status({ signal });
      work.then(
        (body) => {
          if (parsed.operation !== 'status') options.log?.info(`fleetlock: ${parsed.operation} ${parsed.id} in group '${parsed.group}': ok`);
          send(res, 200, body ?? {});
        },
        (error: unknown) => {
          const answer = errorAnswer(error);
          options.log?.info(`fleetlock: ${parsed.operation} ${parsed.id} in group '${parsed.group}': ${answer.kind}: ${answer.value}`);
          send(res, answer.status, { kind: answer.kind, value: answer.value });
        },
      );
    });
  };
}

/** Starts listening on `host:port` (port 0 = any free port) and resolves with the server and its URL. */
export async function startFleetLockServer(options: FleetLockServerOptions, host: string, port: number): Promise<{ server: Server; url: string }> {
  const server = createServer(fleetLockHandler(options));
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => reject(new KeelError('io', `cannot listen on ${host}:${port}: ${error.message}`, { cause: error })));
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return { server, url: `http://${shownHost}:${actualPort}${options.base ?? ''}` };
}
