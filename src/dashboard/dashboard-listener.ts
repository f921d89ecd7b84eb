/**
 * The dashboard's listener: its own (`keel fleet serve`) or the FleetLock server's
 * (`keel lock serve --dashboard`, where the dashboard's paths go to it and the rest to the
 * lock). Hardened as the lock server is: short header and request timeouts, a bounded
 * number of connections, the parser's refusals answered 4xx and closed, CONNECT refused.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { Socket } from 'node:net';
import { KeelError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Dashboard } from './dashboard-server.js';
import { isDashboardPath } from './dashboard-routes.js';

export interface DashboardTls {
  cert: Buffer;
  key: Buffer;
  clientCa?: Buffer;
}

function rawAnswer(socket: Socket, status: string, kind: string, value: string): void {
  const body = JSON.stringify({ kind, value });
  socket.end(`HTTP/1.1 ${status}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
}

/** Adds the guards a listener of hostile clients needs. */
export function hardenListener(server: Server, log: Logger | undefined): void {
  server.maxConnections = 1000;
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    try {
      log?.debug(`dashboard: refused a malformed request: ${error.code ?? error.message}`);
      if (!socket.writable || error.code === 'ECONNRESET') return socket.destroy();
      const status = error.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
      rawAnswer(socket, status, 'bad_request', `the request could not be parsed (${error.code ?? 'malformed'})`);
    } catch {
      socket.destroy();
    }
  });
  server.on('connect', (_req: IncomingMessage, socket: Socket) => {
    socket.on('error', () => undefined);
    rawAnswer(socket, '405 Method Not Allowed', 'method_not_allowed', 'expected GET, HEAD or POST, found CONNECT');
  });
  server.on('tlsClientError', (error: Error) => log?.debug(`dashboard: TLS handshake failed: ${error.message}`));
}

/**
 * Puts the dashboard on a server that already answers requests (the FleetLock server): its
 * paths (`/`, `/app.*`, `/api/…`, `/metrics`) go to the dashboard, everything else to the
 * handlers the server had. Call before the server receives its first request.
 */
export function mountDashboard(server: Server, dashboard: Dashboard): void {
  const previous = server.listeners('request') as ((req: IncomingMessage, res: ServerResponse) => void)[];
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (isDashboardPath(req.url ?? '/')) dashboard.handle(req, res);
    else for (const l of previous) l.call(server, req, res);
  });
}

/** Starts the dashboard's own server on `host:port` (0 = any free port), over TLS when `tls` is given. */
export async function startDashboardServer(dashboard: Dashboard, host: string, port: number, tls: DashboardTls | undefined, log?: Logger): Promise<{ server: Server; url: string }> {
  // The page's requests are small: headers within 10 s, the whole request within 30 s.
  // An event stream is a response, so these bounds do not end it.
  const timeouts = { headersTimeout: 10_000, requestTimeout: 30_000, connectionsCheckingInterval: 1000 };
  const handler = (req: IncomingMessage, res: ServerResponse) => dashboard.handle(req, res);
  const server: Server = tls
    ? createTlsServer({ ...timeouts, cert: tls.cert, key: tls.key, ...(tls.clientCa ? { ca: tls.clientCa, requestCert: true, rejectUnauthorized: false } : {}) }, handler)
    : createServer(timeouts, handler);
  hardenListener(server, log);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => reject(new KeelError(error.code === 'EADDRINUSE' ? 'io' : 'usage', `--listen: cannot listen on ${host}:${port} (${error.code ?? error.message})`, { cause: error })));
    try {
      server.listen(port, host, () => resolve());
    } catch (error) {
      reject(new KeelError('usage', `--listen: cannot listen on ${host}:${port}: ${(error as Error).message}`, { cause: error }));
    }
  });
  server.on('error', (error) => log?.error(`dashboard: server error: ${error.message}`));
  const address = server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  return { server, url: `${tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${actualPort}` };
}
