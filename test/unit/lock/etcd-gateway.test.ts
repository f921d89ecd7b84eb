// The etcd JSON-gateway status read (src/lock/etcd-gateway.ts): the pure status of the lock's
// keys, the error kinds beside etcdError's for the gRPC client, and the edge against fake
// gateways on loopback (refusals, dead and silent endpoints, sign-in, malformed answers).
// The real etcd is in test/integration/lock/gateway-status.test.ts.
import { afterEach, describe, expect, test } from 'vitest';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { castGrpcError } from 'etcd3';
import { KeelError } from '../../../src/errors.js';
import { etcdError } from '../../../src/lock/etcd-store.js';
import { EtcdGateway, attemptTimeoutMs, gatewayErrorKind, gatewayLockStatus, lockStatusOf } from '../../../src/lock/etcd-gateway.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const holders = 'com.coreos.airlock/groups/g/v1/keel-holders/';

describe('lockStatusOf', () => {
  test('a missing semaphore is one free slot', () => {
    expect(lockStatusOf('g', undefined, [])).toEqual({ group: 'g', totalSlots: 1, holders: [] });
  });
  test('holder times: confirmed, pending a hand-off, unknown (airlock), and keys of non-holders ignored', () => {
    const s = lockStatusOf('g', '{"total_slots":4,"holders":["b","a","x y","c"]}', [
      { key: `${holders}a`, value: '2026-01-01T00:00:00.000Z' },
      { key: `${holders}b`, value: '2026-01-02T00:00:00.000Z granted com.coreos.airlock/groups/g/v1/keel-queue/0000000000000007/b' },
      { key: `${holders}x%20y`, value: '2026-01-03T00:00:00.000Z' },
      { key: `${holders}gone`, value: '2026-01-04T00:00:00.000Z' },
      { key: `${holders}c`, value: 'not a time' },
    ]);
    expect(s).toEqual({
      group: 'g',
      totalSlots: 4,
      holders: [{ id: 'a', since: '2026-01-01T00:00:00.000Z' }, { id: 'b', since: '2026-01-02T00:00:00.000Z' }, { id: 'c' }, { id: 'x y', since: '2026-01-03T00:00:00.000Z' }],
    });
  });
  test.each(['', 'nope', '{"total_slots":-1}', '{"total_slots":1,"holders":[1]}'])('a semaphore value it does not understand (%j) is invalid input', (value) => {
    expect(() => lockStatusOf('g', value, [])).toThrow(expect.objectContaining({ kind: 'invalid-input' }));
  });
});

describe('gatewayErrorKind', () => {
  // The same gRPC status as etcd3 would cast it, through etcdError: the kinds must agree.
  test.each([
    [3, 'etcdserver: authentication failed, invalid user ID or password'],
    [3, 'etcdserver: user name is empty'],
    [3, 'etcdserver: user name not found'],
    [7, 'etcdserver: permission denied'],
    [9, 'etcdserver: role is not granted to the user'],
    [16, 'etcdserver: invalid auth token'],
    [16, 'unauthenticated'],
    [14, 'etcdserver: leader changed'],
    [4, 'etcdserver: request timed out'],
    [3, 'etcdserver: too many operations in txn request'],
    [undefined, 'HTTP 502 bad gateway'],
  ])('code %s, %s', (code, message) => {
    const grpc = Object.assign(new Error(message), code === undefined ? {} : { code });
    expect(gatewayErrorKind(code, message)).toBe(etcdError(castGrpcError(grpc), 'reading k').kind);
  });
});

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((ok) => (s.closeAllConnections(), s.close(ok)))));
});
/** A fake gateway on loopback; its URL. */
async function fake(handler: Handler): Promise<string> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => handler(req, body, res));
  });
  servers.push(server);
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}
const json = (res: ServerResponse, status: number, data: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(data));
const txnAnswer = (ranges: { key: string; value?: string }[][]) => ({ header: { revision: '9' }, succeeded: true, responses: ranges.map((kvs) => ({ response_range: { kvs: kvs.map((kv) => ({ key: b64(kv.key), ...(kv.value ? { value: b64(kv.value) } : {}), version: '1' })) } })) });
/** A port nothing listens on. */
async function deadEndpoint(): Promise<string> {
  const url = await fake(() => undefined);
  const s = servers.pop()!;
  await new Promise((ok) => s.close(ok));
  return url;
}

describe('EtcdGateway', () => {
  test('reads ranges in one txn: keys and prefix ends in base64, an empty value decoded as empty', async () => {
    const seen: unknown[] = [];
    const url = await fake((req, body, res) => {
      seen.push([req.method, req.url, JSON.parse(body)]);
      json(res, 200, txnAnswer([[{ key: 'k', value: 'v' }], [{ key: 'p/a' }]]));
    });
    const read = await new EtcdGateway({ endpoints: [url] }).read([{ key: 'k' }, { key: 'p/', prefix: true }], 'reading k');
    expect(read).toEqual([[{ key: 'k', value: 'v' }], [{ key: 'p/a', value: '' }]]);
    expect(seen).toEqual([['POST', '/v3/kv/txn', { success: [{ request_range: { key: b64('k') } }, { request_range: { key: b64('p/'), range_end: b64('p0') } }] }]]);
  });

  test('a dead endpoint, a silent one and a 503 are skipped for the next', async () => {
    const silent = await fake(() => undefined);
    const busy = await fake((_req, _body, res) => json(res, 503, { error: 'etcdserver: leader changed', code: 14 }));
    const good = await fake((_req, _body, res) => json(res, 200, txnAnswer([[]])));
    const gateway = new EtcdGateway({ endpoints: [await deadEndpoint(), silent, busy, good], callTimeoutMs: 200 });
    expect(await gateway.read([{ key: 'k' }], 'reading k')).toEqual([[]]);
  });

  test('every endpoint failing is unavailable, naming the last failure', async () => {
    const busy = await fake((_req, _body, res) => json(res, 503, { error: 'etcdserver: leader changed', code: 14 }));
    await expect(new EtcdGateway({ endpoints: [await deadEndpoint(), busy] }).read([{ key: 'k' }], 'reading k')).rejects.toThrow(
      new KeelError('unavailable', 'etcd did not answer reading k: etcdserver: leader changed; retrying may help'),
    );
  });

  test('refused credentials are invalid input at once: the next endpoint is not asked', async () => {
    let asked = 0;
    const other = await fake((_req, _body, res) => (asked++, json(res, 200, txnAnswer([[]]))));
    const refusing = await fake((_req, _body, res) => json(res, 403, { error: 'etcdserver: permission denied', message: 'etcdserver: permission denied', code: 7 }));
    await expect(new EtcdGateway({ endpoints: [refusing, other] }).read([{ key: 'k' }], 'reading k')).rejects.toMatchObject({ kind: 'invalid-input', message: expect.stringContaining('etcd refused reading k: etcdserver: permission denied') });
    expect(asked).toBe(0);
  });

  test.each([
    ['no gateway (404)', (res: ServerResponse) => res.writeHead(404).end('404 page not found')],
    ["etcd's refusal of a client certificate's CN", (res: ServerResponse) => res.writeHead(400, { 'content-type': 'text/plain' }).end('CommonName of client sending a request against gateway will be ignored and not used as expected\n')],
  ])('%s: undefined, so the caller uses the gRPC client', async (_name, answer) => {
    const url = await fake((_req, _body, res) => answer(res));
    expect(await new EtcdGateway({ endpoints: [url] }).read([{ key: 'k' }], 'reading k')).toBeUndefined();
  });

  test.each([
    ['not JSON', 'oops'],
    ['too few range answers', JSON.stringify({ responses: [] })],
    ['kvs not a list', JSON.stringify({ responses: [{ response_range: { kvs: 'x' } }] })],
  ])('a malformed answer (%s) is unavailable', async (_name, body) => {
    const url = await fake((_req, _body, res) => res.writeHead(200).end(body));
    await expect(new EtcdGateway({ endpoints: [url] }).read([{ key: 'k' }], 'reading k')).rejects.toMatchObject({ kind: 'unavailable' });
  });

  test('signs in with the user and password, then sends the token; an expired token signs in again', async () => {
    const calls: string[] = [];
    let tokens = 0;
    const url = await fake((req, body, res) => {
      calls.push(`${req.url} ${req.headers.authorization ?? '-'}`);
      if (req.url === '/v3/auth/authenticate') return json(res, 200, { token: `t${++tokens}`, ...(JSON.parse(body).password === 'pw' ? {} : { token: undefined }) });
      if (req.headers.authorization === 't1') return json(res, 401, { error: 'etcdserver: invalid auth token', code: 16 });
      json(res, 200, txnAnswer([[]]));
    });
    const gateway = new EtcdGateway({ endpoints: [url], username: 'u', password: 'pw' });
    await expect(gateway.read([{ key: 'k' }], 'reading k')).rejects.toMatchObject({ kind: 'unavailable' });
    expect(await gateway.read([{ key: 'k' }], 'reading k')).toEqual([[]]);
    expect(calls).toEqual(['/v3/auth/authenticate -', '/v3/kv/txn t1', '/v3/auth/authenticate -', '/v3/kv/txn t2']);
  });

  test('unreadable TLS files and a certificate without its key are invalid input before any request', () => {
    expect(() => new EtcdGateway({ endpoints: ['http://x'], cafile: '/nonexistent/ca.pem' })).toThrow(expect.objectContaining({ kind: 'invalid-input', message: expect.stringContaining('cafile: cannot read /nonexistent/ca.pem') }));
    expect(() => new EtcdGateway({ endpoints: ['http://x'], certfile: '/dev/null' })).toThrow(expect.objectContaining({ kind: 'invalid-input', message: expect.stringContaining('expected both or neither') }));
    expect(() => new EtcdGateway({ endpoints: [] })).toThrow(expect.objectContaining({ kind: 'invalid-input' }));
  });
});

describe('gatewayLockStatus', () => {
  test('retries an unavailable etcd until it answers', async () => {
    let n = 0;
    const url = await fake((_req, _body, res) => (++n < 3 ? json(res, 503, { error: 'etcdserver: leader changed', code: 14 }) : json(res, 200, txnAnswer([[{ key: 'com.coreos.airlock/groups/g/v1/semaphore', value: '{"total_slots":2,"holders":["a"]}' }], []]))));
    expect(await gatewayLockStatus({ endpoints: [url] }, 'g', { operationTimeoutMs: 10_000, random: () => 0 })).toEqual({ group: 'g', totalSlots: 2, holders: [{ id: 'a' }] });
    expect(n).toBe(3);
  });
  test('a member that always answers after 500 ms is read once the doubled deadline covers it (200, 400, then 800 ms)', async () => {
    const asked: number[] = [];
    const url = await fake((_req, _body, res) => {
      asked.push(Date.now());
      setTimeout(() => json(res, 200, txnAnswer([[], []])), 500);
    });
    expect(await gatewayLockStatus({ endpoints: [url], callTimeoutMs: 200 }, 'g', { operationTimeoutMs: 10_000, random: () => 0 })).toEqual({ group: 'g', totalSlots: 1, holders: [] });
    expect(asked).toHaveLength(3);
  });
  test('attemptTimeoutMs: doubles from the base, within what is left, never below the base', () => {
    expect([0, 1, 2, 3].map((a) => attemptTimeoutMs(700, a, 10_000))).toEqual([700, 1400, 2800, 5600]);
    expect(attemptTimeoutMs(700, 4, 3000)).toBe(3000);
    expect(attemptTimeoutMs(700, 4, 100)).toBe(700);
    expect(attemptTimeoutMs(700, 60, 10_000)).toBe(10_000);
  });
  test('gives up at the deadline with the attempts counted', async () => {
    await expect(gatewayLockStatus({ endpoints: [await deadEndpoint()] }, 'g', { operationTimeoutMs: 0 })).rejects.toMatchObject({ kind: 'unavailable', message: expect.stringMatching(/^reading group 'g': gave up after 1 attempts: etcd did not answer/) });
  });
});
