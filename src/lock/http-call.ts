/**
 * One HTTP(S) request for the FleetLock client, on node:http(s) rather than fetch: Node
 * 20's fetch cannot present a client certificate, which a FleetLock server with
 * identity (`--client-ca`) asks for. The answer is read up to a bound: a server is
 * trusted with the lock, not with this process's memory.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** TLS files' contents for the client: the CA that signed the server, and the node's certificate. */
export interface ClientTls {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

const maxAnswerBytes = 1024 * 1024;

/** Sends one request; resolves with the status and the body text, rejects on network errors and on `signal`. */
export function httpCall(url: string, init: { method: string; headers: Record<string, string>; body?: string; signal: AbortSignal; tls?: ClientTls }): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(target, { method: init.method, headers: init.headers, signal: init.signal, ...(target.protocol === 'https:' ? (init.tls ?? {}) : {}) }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size <= maxAnswerBytes) chunks.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(init.body);
  });
}
