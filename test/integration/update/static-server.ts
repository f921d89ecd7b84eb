import http from 'node:http';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join, normalize } from 'node:path';
import type { AddressInfo } from 'node:net';

/**
 * A real HTTP server on 127.0.0.1 serving a directory with Range support, optionally
 * throttled (so a test can kill a client mid-download), counting Range requests.
 */
export interface StaticServer {
  url: string;
  rangeRequests: number;
  close(): Promise<void>;
}

export interface ServeOptions {
  bytesPerSecond?: number;
  /** Per request path, read at every chunk: a test can slow a download down or speed it up. */
  rateFor?: (path: string) => number | undefined;
  ignoreRange?: boolean;
}

export async function serveDirectory(dir: string, options: ServeOptions = {}): Promise<StaticServer> {
  const state = { rangeRequests: 0 };
  const server = http.createServer(async (req, res) => {
    const path = join(dir, normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)).replace(/^(\.\.[/\\])+/, ''));
    const info = await stat(path).catch(() => undefined);
    if (!info?.isFile()) {
      res.writeHead(404).end('not found');
      return;
    }
    let start = 0;
    const range = /^bytes=(\d+)-$/.exec(String(req.headers.range ?? ''));
    if (range && !options.ignoreRange) {
      state.rangeRequests++;
      start = Number(range[1]);
      if (start >= info.size) {
        res.writeHead(416, { 'content-range': `bytes */${info.size}` }).end();
        return;
      }
      res.writeHead(206, { 'content-range': `bytes ${start}-${info.size - 1}/${info.size}`, 'content-length': info.size - start, 'accept-ranges': 'bytes' });
    } else res.writeHead(200, { 'content-length': info.size, 'accept-ranges': 'bytes' });
    const stream = createReadStream(path, { start, highWaterMark: 256 * 1024 });
    const rate = () => options.rateFor?.(req.url ?? '') ?? options.bytesPerSecond;
    if (!rate()) {
      stream.pipe(res);
      return;
    }
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      if (res.destroyed) break;
      const ok = res.write(chunk);
      const bps = rate();
      if (bps) await new Promise((r) => setTimeout(r, (chunk.length / bps) * 1000));
      else if (!ok) await new Promise((r) => res.once('drain', r));
    }
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get rangeRequests() {
      return state.rangeRequests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
