// The FleetLock server in-process over the memory store: hostile request targets and
// broken requests get 4xx answers, a failing handler gets 500 and the server keeps
// serving, groups and node ids are bounded (issue 9, defects 1 and 8).
import { afterEach, describe, expect, test } from 'vitest';
import type { Server } from 'node:http';
import { startFleetLockServer, type FleetLockServerOptions } from '../../../src/lock/fleetlock-server.js';
import { MemoryLockStore } from './memory-lock-store.js';
import { requestBody } from '../../../src/lock/fleetlock-protocol.js';
import type { Logger } from '../../../src/log.js';
import { rawRequest, requestText } from './raw-http.js';

let server: Server | undefined;
afterEach(async () => {
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  server = undefined;
});

async function start(options: Partial<FleetLockServerOptions> = {}): Promise<number> {
  const started = await startFleetLockServer({ store: new MemoryLockStore(), ...options }, '127.0.0.1', 0);
  server = started.server;
  return Number(new URL(started.url).port);
}
const h = { 'fleet-lock-protocol': 'true', 'content-type': 'application/json' };
const post = (port: number, path: string, id: string, group = 'default', headers: Record<string, string> = {}) =>
  rawRequest(port, requestText('POST', path, { ...h, ...headers }, requestBody(id, group)));
const json = (body: string) => JSON.parse(body) as { kind: string; value: string };

describe('hostile request targets', () => {
  test.each(['http://%zz/v1/status', 'http://[/v1/status', 'http://a:b:c/v1/status', 'http://x:99999/v1/status', 'http://256.1.1.1/v1/status', 'ftp://x/v1/status'])(
    'GET %s is answered 400 and the server keeps serving',
    async (target) => {
      const port = await start();
      const r = await rawRequest(port, requestText('GET', target));
      expect(r.status).toBe(400);
      expect(json(r.body)).toMatchObject({ kind: 'bad_request_target', value: expect.any(String) });
      expect((await rawRequest(port, requestText('GET', '/v1/status'))).status).toBe(200);
    },
  );

  test('a well-formed absolute-form target is served like its path', async () => {
    const port = await start();
    expect((await rawRequest(port, requestText('GET', 'http://127.0.0.1/v1/status?group=g'))).status).toBe(200);
  });

  test.each([
    ['garbage request line', 'GARBAGE\r\n\r\n', 400],
    ['bad header', 'GET / HTTP/1.1\r\nbad header\r\n\r\n', 400],
    ['bad content-length', 'POST /v1/pre-reboot HTTP/1.1\r\ncontent-length: abc\r\n\r\n', 400],
    ['headers too large', `GET / HTTP/1.1\r\nx: ${'a'.repeat(20_000)}\r\n\r\n`, 431],
  ])('%s gets a JSON answer from clientError', async (_n, text, status) => {
    const port = await start();
    const r = await rawRequest(port, text);
    expect(r.status).toBe(status);
    expect(json(r.body).kind).toBe('bad_request');
    expect((await rawRequest(port, requestText('GET', '/v1/status'))).status).toBe(200);
  });
});

describe('no handler error ends the server', () => {
  const throwingLog = (level: keyof Logger): Logger => {
    const quiet = { error() {}, warning() {}, notice() {}, info() {}, debug() {} };
    return { ...quiet, [level]: () => { throw new Error(`log ${level} failed`); } };
  };

  test('a logger that throws after the lock answered: 500, then the next request is served', async () => {
    const port = await start({ log: throwingLog('info') });
    const r = await post(port, '/v1/pre-reboot', 'n1');
    expect(r.status).toBe(500);
    expect(json(r.body).kind).toBe('internal_error');
    expect((await rawRequest(port, requestText('GET', '/v1/status'))).status).toBe(200);
  });

  test('a store that throws synchronously: 500, still serving', async () => {
    const store = new MemoryLockStore();
    (store as unknown as { get: () => never }).get = () => {
      throw new TypeError('boom');
    };
    const started = await startFleetLockServer({ store }, '127.0.0.1', 0);
    server = started.server;
    const port = Number(new URL(started.url).port);
    expect((await post(port, '/v1/pre-reboot', 'n1')).status).toBe(500);
    expect((await post(port, '/v1/pre-reboot', 'n1')).status).toBe(500);
  });
});

describe('groups and node ids are bounded', () => {
  test.each([
    ['a 60 KB group', 'g'.repeat(60_000)],
    ['a 254-character group', 'g'.repeat(254)],
    ['..', '..'],
    ['.', '.'],
    ['a slash', 'a/b'],
  ])('%s is refused 400 invalid_group', async (_n, group) => {
    const port = await start();
    const r = await post(port, '/v1/pre-reboot', 'n1', group);
    expect(r.status).toBe(400);
    expect(json(r.body).kind).toBe('invalid_group');
    expect(r.body.length).toBeLessThan(1000);
  });

  test.each([
    ['a space', 'node 1'],
    ['a newline', 'node\n1'],
    ['a lone surrogate', '\ud800'],
    ['254 characters', 'n'.repeat(254)],
  ])('a node id with %s is refused 400 invalid_client_id', async (_n, id) => {
    const port = await start();
    for (const path of ['/v1/pre-reboot', '/v1/steady-state']) {
      const r = await post(port, path, id);
      expect(r.status).toBe(400);
      expect(json(r.body).kind).toBe('invalid_client_id');
    }
  });

  test('beyond --max-groups a new group is answered 429 until the idle ones are dropped', async () => {
    let now = 1_000_000;
    const port = await start({ maxGroups: 2, groupIdleMs: 60_000, now: () => now });
    const status = (group: string) => rawRequest(port, requestText('GET', `/v1/status?group=${group}`));
    expect((await status('a')).status).toBe(200);
    expect((await status('b')).status).toBe(200);
    const r = await status('c');
    expect(r.status).toBe(429);
    expect(json(r.body)).toMatchObject({ kind: 'too_many_groups', value: expect.stringContaining('at most 2 groups and that many are in use') });
    expect((await status('a')).status).toBe(200);
    now += 60_000;
    expect((await status('c')).status).toBe(200);
  });

  test('pre-reboot creates no group in etcd beyond --max-groups; existing groups keep working', async () => {
    let now = 1_000_000;
    const store = new MemoryLockStore();
    const started = await startFleetLockServer({ store, maxGroups: 2, groupIdleMs: 1000, now: () => now }, '127.0.0.1', 0);
    server = started.server;
    const port = Number(new URL(started.url).port);
    expect((await post(port, '/v1/pre-reboot', 'n1', 'a')).status).toBe(200);
    expect((await post(port, '/v1/pre-reboot', 'n1', 'b')).status).toBe(200);
    now += 1000; // a and b are idle: the lock objects go, the etcd groups stay
    for (let i = 0; i < 50; i++) {
      const r = await post(port, '/v1/pre-reboot', 'n1', `made-up-${i}`);
      expect(r.status).toBe(429);
      expect(json(r.body).value).toContain('etcd holds that many groups already');
    }
    expect([...(await store.list('com.coreos.airlock/groups/')).keys()].filter((k) => k.endsWith('/semaphore'))).toHaveLength(2);
    expect((await post(port, '/v1/steady-state', 'n1', 'a')).status).toBe(200);
    expect((await post(port, '/v1/pre-reboot', 'n2', 'a')).status).toBe(200);
    expect((await post(port, '/v1/steady-state', 'n1', 'made-up-1')).status).toBe(200);
  });
});
