/**
 * What every keel HTTP listener needs so that no request can end its server: each listener
 * runs under `guarded`, which turns a throw or a rejected promise into a 500 (when nothing
 * was sent yet) and a log line, and the server goes on. Shared by the FleetLock server and
 * the fleet dashboard.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../log.js';

const internalError = JSON.stringify({ kind: 'internal_error', value: 'the server failed on this request; it keeps serving' });

/** Runs a listener so that neither a throw nor a rejection escapes; `who` names the server in the log. */
export function guarded<A extends unknown[]>(res: ServerResponse, who: string, log: Logger | undefined, fn: (...args: A) => unknown): (...args: A) => void {
  const fail = (error: unknown) => {
    try {
      log?.error(`${who}: internal error, answered 500: ${error instanceof Error ? error.message : String(error)}`);
    } catch {
      // a logger that throws must not take the server down either
    }
    try {
      if (res.headersSent || res.destroyed) res.destroy();
      else {
        res.writeHead(500, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(internalError) });
        res.end(internalError);
      }
    } catch {
      res.destroy();
    }
  };
  return (...args: A) => {
    try {
      const result = fn(...args);
      if (result instanceof Promise) result.catch(fail);
    } catch (error) {
      fail(error);
    }
  };
}

/** The verified client certificate's common name, if the connection has one. */
export function certificateName(req: IncomingMessage): string | undefined {
  const socket = req.socket as Partial<TLSSocket>;
  if (!socket.authorized || typeof socket.getPeerCertificate !== 'function') return undefined;
  const cn = socket.getPeerCertificate().subject?.CN;
  return typeof cn === 'string' && cn !== '' ? cn : undefined;
}
