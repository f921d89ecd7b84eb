// The event hub with fake timers: a burst of views is one message with the newest, and a
// large view holds the next message back by its size at the byte rate.
import { afterEach, describe, expect, test, vi } from 'vitest';
import type { ServerResponse } from 'node:http';
import { SseHub } from '../../../src/dashboard/sse-hub.js';
import type { DashboardView } from '../../../src/dashboard/dashboard-view.js';

const view = (tag: string, padBytes = 0): DashboardView => ({ generatedAt: tag, etcd: { connected: true, since: 'x', ...(padBytes ? { error: 'p'.repeat(padBytes) } : {}) }, groups: [] });
function fakeResponse() {
  const written: string[] = [];
  const res = { destroyed: false, writableEnded: false, writableLength: 0, writeHead: () => res, write: (t: string) => (written.push(t), true), end: () => undefined, on: () => res };
  return { res: res as unknown as ServerResponse, written };
}
const views = (written: string[]) => written.flatMap((w) => [...w.matchAll(/"generatedAt":"([^"]+)"/g)].map((m) => m[1]));

afterEach(() => void vi.useRealTimers());

describe('SseHub', () => {
  test('a burst is one message carrying the newest view', () => {
    vi.useFakeTimers();
    const hub = new SseHub({ coalesceMs: 100 });
    const { res, written } = fakeResponse();
    hub.open(res, view('first'));
    for (const t of ['a', 'b', 'c']) hub.send(view(t));
    vi.advanceTimersByTime(100);
    expect(views(written)).toEqual(['first', 'c']);
    hub.close();
  });

  test('after a 500 kB view at 1 MB/s the next waits 0.5 s', () => {
    vi.useFakeTimers();
    const hub = new SseHub({ coalesceMs: 100, maxBytesPerSecond: 1_000_000 });
    const { res, written } = fakeResponse();
    hub.open(res, view('first'));
    hub.send(view('big', 500_000));
    vi.advanceTimersByTime(100);
    hub.send(view('next'));
    vi.advanceTimersByTime(400);
    expect(views(written)).toEqual(['first', 'big']);
    vi.advanceTimersByTime(101);
    expect(views(written)).toEqual(['first', 'big', 'next']);
    hub.close();
  });
});
