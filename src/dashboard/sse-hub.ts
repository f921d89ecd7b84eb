/**
 * Server-sent events to the open pages: each gets the whole view at once, then again on
 * every change, coalesced so a burst of etcd events is one message (the newest view wins).
 * A comment line every `heartbeatMs` keeps proxies from closing an idle stream and lets a
 * page notice a dead server. The number of streams is bounded: one more is answered 503.
 */
import type { ServerResponse } from 'node:http';
import type { DashboardView } from './dashboard-view.js';

export interface SseHubOptions {
  maxClients?: number;
  heartbeatMs?: number;
  /** Changes within this long after one are sent together. Default 50 ms. */
  coalesceMs?: number;
  /**
   * Views are sent whole: a large group's view waits so that a stream carries at most this
   * many bytes a second (10,000 nodes measured 2.5 MB: one view every ~2.5 s). Default 1,000,000.
   */
  maxBytesPerSecond?: number;
}

/** One `event: view` message; JSON has no raw newlines, so one `data:` line. */
export function sseMessage(view: DashboardView): string {
  return `event: view\ndata: ${JSON.stringify(view)}\n\n`;
}

export class SseHub {
  private readonly clients = new Set<ServerResponse>();
  private readonly heartbeat: NodeJS.Timeout;
  private pending: DashboardView | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastDelayMs = 0;

  constructor(private readonly options: SseHubOptions = {}) {
    this.heartbeat = setInterval(() => this.write(': keep-alive\n\n'), options.heartbeatMs ?? 15_000);
    this.heartbeat.unref();
  }

  get size(): number {
    return this.clients.size;
  }

  /** Takes a request for the stream; false (and a 503) when there are too many. */
  open(res: ServerResponse, first: DashboardView): boolean {
    if (this.clients.size >= (this.options.maxClients ?? 200)) {
      const body = JSON.stringify({ kind: 'too_many_streams', value: `the server keeps at most ${this.options.maxClients ?? 200} live pages open; close one or try again later` });
      res.writeHead(503, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'retry-after': '10' });
      res.end(body);
      return false;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no', connection: 'keep-alive' });
    // A page that reconnects waits 2 s, not the browser's default 3 s or more.
    res.write(`retry: 2000\n${sseMessage(first)}`);
    this.clients.add(res);
    const drop = () => this.clients.delete(res);
    // The response's close, not the request's: a request emits 'close' once its (empty) body is read.
    res.on('close', drop);
    res.on('error', drop);
    return true;
  }

  /** Sends `view` to every page, coalescing bursts. */
  send(view: DashboardView): void {
    this.pending = view;
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const v = this.pending;
      this.pending = undefined;
      if (!v) return;
      const text = sseMessage(v);
      this.write(text);
      // The next message waits as long as this one takes at the byte rate: the newest view then wins.
      this.lastDelayMs = (Buffer.byteLength(text) / (this.options.maxBytesPerSecond ?? 1_000_000)) * 1000;
    }, Math.max(this.options.coalesceMs ?? 50, this.lastDelayMs));
  }

  private write(text: string): void {
    for (const res of this.clients) {
      if (res.destroyed || res.writableEnded) this.clients.delete(res);
      // A page that does not read its stream is dropped rather than buffered without end.
      else if (res.writableLength > 8 * 1024 * 1024) res.destroy();
      else res.write(text);
    }
  }

  close(): void {
    clearInterval(this.heartbeat);
    clearTimeout(this.timer);
    for (const res of this.clients) res.end();
    this.clients.clear();
  }
}
