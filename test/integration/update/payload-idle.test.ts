// openPayload's idle limit counts the network's silence, not the reader's: a reader that stops
// for longer than the limit (a slot written under load, zstd expanding a delta from few input
// bytes) still gets every byte, while a server that goes quiet mid-body is given up on. The
// update e2e test lost a delta download this way (the reader paused, the socket idled, "aborted").
// A real HTTP server on 127.0.0.1.
import { afterEach, expect, test } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { openPayload } from '../../../src/update/payload-source.js';

const limitMs = 300;
let server: http.Server | undefined;

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  server = undefined;
});

/** Serves `total` bytes, the last `stallAfter`.. only after `stallMs` (or never). */
async function serve(total: number, stall?: { after: number; ms: number }): Promise<string> {
  server = http.createServer(async (_req, res) => {
    res.writeHead(200, { 'content-length': String(total) });
    const first = stall?.after ?? total;
    res.write(Buffer.alloc(first, 1));
    if (stall) {
      await sleep(stall.ms);
      if (!res.destroyed) res.end(Buffer.alloc(total - first, 2));
    } else res.end();
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/payload`;
}

test('a reader that pauses for several idle limits still gets every byte', async () => {
  const total = 8 << 20; // more than the socket and the response buffer hold: the server waits on us
  const { stream } = await openPayload(await serve(total), 0, limitMs);
  let received = 0;
  let paused = false;
  for await (const chunk of stream) {
    received += (chunk as Buffer).length;
    if (!paused && received > 1 << 20) {
      paused = true;
      await sleep(limitMs * 5);
    }
  }
  expect(paused).toBe(true);
  expect(received).toBe(total);
});

test('a server that goes quiet mid-body while the reader waits is given up on within the limit', async () => {
  const { stream } = await openPayload(await serve(1 << 20, { after: 64 << 10, ms: 60_000 }), 0, limitMs);
  const started = Date.now();
  let received = 0;
  const read = (async () => {
    for await (const chunk of stream) received += (chunk as Buffer).length;
  })();
  await expect(read).rejects.toThrow();
  expect(received).toBe(64 << 10);
  // Not a timing assertion on keel's speed: only that the 60 s stall was not waited out.
  expect(Date.now() - started).toBeLessThan(30_000);
});
