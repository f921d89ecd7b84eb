// The lease keeper over a recording fake of etcd's lease calls, on fake timers: one stream
// carries every lease, a broken stream is opened again and what it left unanswered sent on it, a lease
// etcd answers with ttl 0 is lost and its holder told. (Against real etcd:
// test/integration/lock/lease-keeper.test.ts.)
import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { LeaseKeeper, type KeepAliveStream, type LeaseRpc } from '../../../src/lock/lease-keeper.js';

class FakeStream extends EventEmitter {
  readonly writes: string[] = [];
  ended = false;
  write(request: { ID: string }): void {
    this.writes.push(request.ID);
  }
  end(): void {
    this.ended = true;
  }
  answer(id: string, ttl: number): void {
    this.emit('data', { ID: id, TTL: String(ttl) });
  }
}

class FakeRpc implements LeaseRpc {
  readonly streams: FakeStream[] = [];
  readonly revoked: string[] = [];
  next = 100;
  /** TTL each keep-alive is answered with (undefined: no answer). */
  answerTtl: number | undefined = 60;
  failOpens = 0;
  grant = async () => String(this.next++);
  revoke = async (id: string) => void this.revoked.push(id);
  openKeepAlive = async () => {
    if (this.failOpens > 0) {
      this.failOpens--;
      throw new Error('connection refused');
    }
    const s = new FakeStream();
    const write = s.write.bind(s);
    s.write = (r) => {
      write(r);
      if (this.answerTtl !== undefined) queueMicrotask(() => s.answer(r.ID, this.answerTtl!));
    };
    this.streams.push(s);
    return s as unknown as KeepAliveStream;
  };
}

let rpc: FakeRpc;
let keeper: LeaseKeeper;
beforeEach(() => {
  vi.useFakeTimers({ now: 0 });
  rpc = new FakeRpc();
  keeper = new LeaseKeeper(rpc, { now: () => Date.now() });
});
afterEach(() => {
  keeper.close();
  vi.useRealTimers();
});

describe('lease keeper', () => {
  test('a hundred leases go over one stream, each renewed every third of its ttl', async () => {
    const leases = Array.from({ length: 100 }, () => keeper.lease(60));
    const ids = await Promise.all(leases.map((l) => l.grant()));
    expect(new Set(ids).size).toBe(100);
    await vi.advanceTimersByTimeAsync(61_000);
    expect(rpc.streams).toHaveLength(1);
    const writes = rpc.streams[0]!.writes;
    for (const id of ids) expect(writes.filter((w) => w === id)).toHaveLength(3); // at 20, 40, 60 s
    expect(keeper.size).toBe(100);
  });

  test('released and revoked leases stop; the stream ends with the last one', async () => {
    const [a, b] = [keeper.lease(30), keeper.lease(30)];
    const [ida] = await Promise.all([a.grant(), b.grant()]);
    await vi.advanceTimersByTimeAsync(11_000);
    a.release();
    await b.revoke();
    expect(rpc.revoked).toEqual([await b.grant()]);
    expect(keeper.size).toBe(0);
    expect(rpc.streams[0]!.ended).toBe(true);
    const sent = rpc.streams[0]!.writes.length;
    await vi.advanceTimersByTimeAsync(60_000);
    expect(rpc.streams[0]!.writes.length).toBe(sent);
    expect(rpc.streams[0]!.writes).toContain(ida);
  });

  test('a broken stream is opened again (after refused attempts) and every unanswered keep-alive is sent on it', async () => {
    const leases = Array.from({ length: 5 }, () => keeper.lease(60));
    const ids = await Promise.all(leases.map((l) => l.grant()));
    const lost = vi.fn();
    for (const l of leases) l.onLost(lost);
    rpc.answerTtl = undefined;
    await vi.advanceTimersByTimeAsync(20_500); // each sent once at 20 s, none answered
    rpc.answerTtl = 60;
    rpc.failOpens = 2;
    rpc.streams[0]!.emit('error', new Error('connection reset'));
    await vi.advanceTimersByTimeAsync(1000);
    expect(rpc.streams).toHaveLength(2);
    expect([...rpc.streams[1]!.writes].sort()).toEqual([...ids].sort()); // sent again at once, not at their next turn
    await vi.advanceTimersByTimeAsync(120_000);
    expect(lost).not.toHaveBeenCalled();
    expect(keeper.size).toBe(5);
  });

  test('a stream that stops answering is replaced; one that never answers loses its leases at their ttl', async () => {
    const lease = keeper.lease(30);
    const lost = vi.fn();
    lease.onLost(lost);
    await lease.grant();
    rpc.answerTtl = undefined;
    await vi.advanceTimersByTimeAsync(20_500);
    expect(rpc.streams.length).toBeGreaterThanOrEqual(2); // sent at 10 s, unanswered at 20 s: a new stream
    expect(rpc.streams[0]!.ended).toBe(true);
    expect(lost).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(lost).toHaveBeenCalledTimes(1);
    expect(String(lost.mock.calls[0]![0].message)).toMatch(/no keep-alive was answered within its 30 s ttl/);
    expect(keeper.size).toBe(0);
  });

  test('a lease etcd answers with ttl 0 is lost and its holder told once; the others are kept', async () => {
    const [a, b] = [keeper.lease(60), keeper.lease(60)];
    const [ida] = await Promise.all([a.grant(), b.grant()]);
    const lostA = vi.fn();
    const lostB = vi.fn();
    a.onLost(lostA);
    b.onLost(lostB);
    await vi.advanceTimersByTimeAsync(1000);
    rpc.streams[0]!.answer(ida, 0);
    rpc.streams[0]!.answer(ida, 0);
    expect(lostA).toHaveBeenCalledTimes(1);
    expect(String(lostA.mock.calls[0]![0].message)).toMatch(/is gone/);
    await vi.advanceTimersByTimeAsync(100_000);
    expect(lostB).not.toHaveBeenCalled();
    expect(keeper.size).toBe(1);
  });

  test('a failed grant rejects and tells the holder; a ttl under 1 s is refused', async () => {
    rpc.grant = async () => {
      throw new Error('etcd did not answer');
    };
    const lease = keeper.lease(10);
    const lost = vi.fn();
    lease.onLost(lost);
    await expect(lease.grant()).rejects.toThrow('etcd did not answer');
    expect(lost).toHaveBeenCalledTimes(1);
    expect(rpc.streams).toHaveLength(0);
    expect(() => keeper.lease(0.5)).toThrow(/at least 1 second/);
  });
});
