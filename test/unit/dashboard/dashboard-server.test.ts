// The dashboard's HTTP side in-process over loopback with a recording backend: the page and
// its files with a strict CSP, the API, 404/400/405/414/415 with JSON errors, hostile
// targets, actions with and without an operator, the confirmation, and the audit record.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Server } from 'node:http';
import { createDashboard, type Dashboard } from '../../../src/dashboard/dashboard-server.js';
import { startDashboardServer } from '../../../src/dashboard/dashboard-listener.js';
import { parseTokens, type FleetLockAuth } from '../../../src/lock/fleetlock-auth.js';
import { FakeBackend } from './fake-backend.js';
import { sampleInput } from './sample-records.js';
import { rawRequest, requestText } from '../lock/raw-http.js';

const aliceToken = 'alice-token-0123456789';
const bobToken = 'bob-token-0123456789ab';
const auth: FleetLockAuth = { clientCerts: false, tokens: parseTokens(`alice ${aliceToken}\nbob ${bobToken}\n`, 'tokens'), operators: new Set(['alice']) };
let backend: FakeBackend;
let dashboard: Dashboard;
let server: Server;
let url: string;
let port: number;

beforeAll(async () => {
  backend = new FakeBackend(() => sampleInput());
  dashboard = createDashboard({ backend, groups: ['web'], auth });
  ({ server, url } = await startDashboardServer(dashboard, '127.0.0.1', 0, undefined));
  port = Number(new URL(url).port);
  await dashboard.start();
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await dashboard.close();
});

const post = (path: string, body: unknown, token?: string, headers: Record<string, string> = {}) =>
  fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });

describe('pages and API', () => {
  test('the page, its script and stylesheet, each with a CSP that forbids inline scripts and other origins', async () => {
    for (const [path, type] of [['/', 'text/html'], ['/app.js', 'text/javascript'], ['/app.css', 'text/css']]) {
      const res = await fetch(url + path);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain(type);
      expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    }
    const html = await (await fetch(url)).text();
    expect(html).not.toMatch(/<script>|https?:\/\//);
  });

  test('/api/v1/view, /api/v1/groups/web and one node', async () => {
    const view = await (await fetch(`${url}/api/v1/view`)).json();
    expect(view.etcd.connected).toBe(true);
    expect(view.groups[0].nodes.map((n: { machineId: string }) => n.machineId)).toEqual(['n1', 'n2', 'n3']);
    expect((await (await fetch(`${url}/api/v1/groups/web`)).json()).slots.holders[0].holder).toBe('n3');
    expect((await (await fetch(`${url}/api/v1/groups/web/nodes/n2`)).json()).lastError.message).toContain('health gate failed');
    expect(await (await fetch(`${url}/api/v1/groups`)).json()).toMatchObject({ groups: [{ group: 'web', nodes: 3 }] });
  });

  test.each([
    ['GET', '/nope', 404, 'not_found'],
    ['GET', '/api/v1/groups/other', 404, 'not_found'],
    ['GET', '/api/v1/groups/web/nodes/n7', 404, 'not_found'],
    ['GET', '/api/v1/groups/web/extra/a/b/c', 404, 'not_found'],
    ['GET', '/api/v1/groups/we%2Fb', 400, 'bad_request'],
    ['GET', '/api/v1/groups/%E0%A4%A', 400, 'bad_request'],
    ['DELETE', '/api/v1/view', 405, 'method_not_allowed'],
    ['GET', '/api/v1/groups/web/rollouts/2.0.0/halt', 405, 'method_not_allowed'],
    ['GET', `/${'a'.repeat(3000)}`, 414, 'uri_too_long'],
  ])('%s %.60s is %i with a JSON error', async (method, path, status, kind) => {
    const res = await fetch(url + path, { method });
    expect(res.status).toBe(status);
    expect((await res.json()).kind).toBe(kind);
  });

  test.each([
    ['an absolute-form target', 400, requestText('GET', 'http://evil.example/api/v1/view')],
    ['a path step as a machine id', 400, requestText('GET', '/api/v1/groups/web/nodes/..')],
    ['a malformed request line', 400, 'GET / HTTP/1.1 junk\r\n\r\n'],
    ['headers too large', 431, `GET / HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`],
    ['CONNECT', 405, 'CONNECT 127.0.0.1:22 HTTP/1.1\r\nhost: x\r\n\r\n'],
  ])('%s is refused with %i and the server goes on', async (_name, status, text) => {
    expect((await rawRequest(port, text)).status).toBe(status);
    expect((await fetch(`${url}/api/v1/groups`)).status).toBe(200);
  });
});

describe('the event stream', () => {
  test('sends the view at once and again after a watched change (regression: the stream was dropped when its request ended)', async () => {
    // The hub sends a published view to every open stream 50 ms later (coalescing bursts). If the
    // send of the view start() published is still pending when this stream opens, and fires
    // before the change below is published (a slow first read under load), it arrives as a
    // copy of the first view: CI saw three events. Its timer expires before this one, so after
    // this wait nothing is pending.
    await new Promise((r) => setTimeout(r, 200));
    const controller = new AbortController();
    const res = await fetch(`${url}/api/v1/events`, { signal: controller.signal });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = res.body!.getReader();
    let text = '';
    const until = async (ok: () => boolean) => {
      while (!ok()) text += new TextDecoder().decode((await reader.read()).value);
    };
    await until(() => text.includes('event: view'));
    backend.revision = 12;
    backend.watchers[0]!.change(12);
    await until(() => text.includes('"revision":12'));
    expect(text.match(/event: view/g)).toHaveLength(2);
    controller.abort();
  });
});

describe('actions', () => {
  const halt = '/api/v1/groups/web/rollouts/3.0.0/halt';
  test('without a token 401, with a non-operator 403, and nothing happens', async () => {
    const before = backend.calls.length;
    const none = await post(halt, { confirm: '3.0.0', reason: 'x' });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toContain('Bearer');
    expect((await post(halt, { confirm: '3.0.0', reason: 'x' }, 'wrong-token-0123456789')).status).toBe(401);
    const bob = await post(halt, { confirm: '3.0.0', reason: 'x' }, bobToken);
    expect(bob.status).toBe(403);
    expect((await bob.json()).value).toContain('"bob" is not an operator');
    expect(backend.calls.slice(before).filter((c) => !c.startsWith('read'))).toEqual([]);
  });

  test.each([
    ['no confirmation', { reason: 'x' }, 'confirmation_required'],
    ['a confirmation of another version', { confirm: '2.0.0', reason: 'x' }, 'confirmation_required'],
    ['no reason', { confirm: '3.0.0' }, 'bad_request'],
    ['a reason with a newline', { confirm: '3.0.0', reason: 'a\nb' }, 'bad_request'],
    ['a body that is not JSON', '{halt', 'bad_request'],
    ['a JSON array', '[1]', 'bad_request'],
  ])('an operator with %s gets 400 and nothing changes', async (_name, body, kind) => {
    const res = await post(halt, body, aliceToken);
    expect(res.status).toBe(400);
    expect((await res.json()).kind).toBe(kind);
    expect(backend.halted.has('3.0.0')).toBe(false);
  });

  test('a form post (another content type) is 415 and a cross-origin page is 403', async () => {
    expect((await post(halt, { confirm: '3.0.0', reason: 'x' }, aliceToken, { 'content-type': 'text/plain' })).status).toBe(415);
    expect((await post(halt, { confirm: '3.0.0', reason: 'x' }, aliceToken, { origin: 'http://evil.example' })).status).toBe(403);
    expect(backend.halted.has('3.0.0')).toBe(false);
  });

  test('an oversized body is 413', async () => {
    expect((await post(halt, JSON.stringify({ confirm: '3.0.0', reason: 'x', pad: 'a'.repeat(20_000) }), aliceToken)).status).toBe(413);
  });

  test('halt, resume and release by an operator, each with an audit record saying who, when, what and the result', async () => {
    const h = await post(halt, { confirm: '3.0.0', reason: 'canary errors' }, aliceToken);
    expect(h.status).toBe(200);
    expect(await h.json()).toMatchObject({ group: 'web', version: '3.0.0', changed: true });
    expect((await (await post(halt, { confirm: '3.0.0', reason: 'again' }, aliceToken)).json()).changed).toBe(false);
    expect((await post('/api/v1/groups/web/rollouts/3.0.0/resume', { confirm: '3.0.0' }, aliceToken)).status).toBe(200);
    const rel = await post('/api/v1/groups/web/slots/n3/release', { confirm: 'n3' }, aliceToken);
    expect(await rel.json()).toEqual({ group: 'web', holder: 'n3', changed: true });
    expect((await (await post('/api/v1/groups/web/slots/n3/release', { confirm: 'n3' }, aliceToken)).json()).changed).toBe(false);
    expect(backend.audits.map((a) => [a.who.name, a.who.via, a.action, a.target, a.reason ?? null, a.result.split(':')[0]])).toEqual([
      ['alice', 'token', 'halt', '3.0.0', 'canary errors', 'changed'],
      ['alice', 'token', 'halt', '3.0.0', 'again', 'unchanged'],
      ['alice', 'token', 'resume', '3.0.0', null, 'changed'],
      ['alice', 'token', 'release', 'n3', null, 'changed'],
      ['alice', 'token', 'release', 'n3', null, 'unchanged'],
    ]);
    for (const a of backend.audits) expect(Number.isNaN(Date.parse(a.at))).toBe(false);
  });

  test('etcd away during an action: 503, and the failure is still audited', async () => {
    backend.down = true;
    try {
      const res = await post('/api/v1/groups/web/rollouts/4.0.0/halt', { confirm: '4.0.0', reason: 'x' }, aliceToken);
      expect(res.status).toBe(503);
      expect((await res.json()).kind).toBe('etcd_unavailable');
      expect(backend.audits.at(-1)).toMatchObject({ action: 'halt', target: '4.0.0', result: expect.stringMatching(/^failed: etcd did not answer/) });
    } finally {
      backend.down = false;
    }
  });
});

describe('a dashboard without operators', () => {
  test('is read-only: actions are 403 actions_disabled', async () => {
    const b = new FakeBackend(() => sampleInput());
    const d = createDashboard({ backend: b, groups: ['web'] });
    const s = await startDashboardServer(d, '127.0.0.1', 0, undefined);
    try {
      await d.start();
      const res = await fetch(`${s.url}/api/v1/groups/web/rollouts/3.0.0/halt`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"confirm":"3.0.0","reason":"x"}' });
      expect(res.status).toBe(403);
      expect((await res.json()).kind).toBe('actions_disabled');
      expect(b.calls.filter((c) => c.startsWith('halt'))).toEqual([]);
    } finally {
      s.server.closeAllConnections();
      await new Promise((r) => s.server.close(r));
      await d.close();
    }
  });
});

describe('bounded event streams', () => {
  test('a stream beyond maxStreams is 503 with retry-after; closing one makes room', async () => {
    const b = new FakeBackend(() => sampleInput());
    const d = createDashboard({ backend: b, groups: ['web'], maxStreams: 1 });
    const s = await startDashboardServer(d, '127.0.0.1', 0, undefined);
    try {
      await d.start();
      const first = new AbortController();
      const open = await fetch(`${s.url}/api/v1/events`, { signal: first.signal });
      expect(open.status).toBe(200);
      const refused = await fetch(`${s.url}/api/v1/events`);
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('10');
      expect((await refused.json()).kind).toBe('too_many_streams');
      first.abort();
      await expect.poll(async () => {
        const again = await fetch(`${s.url}/api/v1/events`);
        await again.body?.cancel();
        return again.status;
      }).toBe(200);
    } finally {
      s.server.closeAllConnections();
      await new Promise((r) => s.server.close(r));
      await d.close();
    }
  });
});
