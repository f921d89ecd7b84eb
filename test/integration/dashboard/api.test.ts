// `./bin/keel fleet serve` against a real etcd member and three simulated agents: the JSON
// API, server-sent events after a record change, /metrics parsed back with a Prometheus
// text-format parser, the actions with and without an operator (each audited in etcd), a
// killed etcd shown and recovered by itself, and `keel lock serve --dashboard`.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { DashboardView, GroupView } from '../../../src/dashboard/dashboard-view.js';
import { auditPrefix, readAuditRecord } from '../../../src/dashboard/audit-record.js';
import { family, parsePrometheus } from '../../unit/dashboard/prometheus-text.js';
import { aliceToken, bobToken, group, nextEvent, startFleet, startFleetServe, startServe, type Fleet, type ServeProcess } from './dashboard-fixture.js';

let fleet: Fleet;
let serve: ServeProcess;

beforeAll(async () => {
  fleet = await startFleet();
  serve = await startFleetServe(fleet);
});
afterAll(async () => {
  await serve?.stop();
  await fleet?.close();
});

const webOf = (v: DashboardView): GroupView | undefined => v.groups.find((g) => g.group === group);
const post = (path: string, body: unknown, token?: string) =>
  fetch(serve.url + path, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });

/** Waits (by the event stream, not by polling) until the served view passes `ok`. */
async function viewWhere(ok: (v: DashboardView) => boolean): Promise<DashboardView> {
  return (await nextEvent<DashboardView>(serve.url, ok, AbortSignal.timeout(20_000))).view;
}

describe('keel fleet serve', () => {
  test('the API shows the three nodes, the rollout and the slot holder with its hostname', async () => {
    const view = (await (await fetch(`${serve.url}/api/v1/view`)).json()) as DashboardView;
    const web = webOf(view)!;
    expect(view.etcd.connected).toBe(true);
    expect(web.nodes.map((n) => [n.machineId, n.version, n.state])).toEqual([
      ['n1', '2.0.0', 'steady'],
      ['n2', '1.0.0', 'rebooting'],
      ['n3', '1.0.0', 'staged'],
    ]);
    expect(web.versions).toEqual([
      { version: '1.0.0', nodes: 2, failed: 0 },
      { version: '2.0.0', nodes: 1, failed: 0 },
    ]);
    expect(web.rollouts).toEqual([{ version: '2.0.0', state: 'running', started: 2, succeeded: 1, failed: 0, failedNodes: [] }]);
    expect(web.slots).toMatchObject({ total: 1, holders: [{ holder: 'n2', hostname: 'web-n2' }] });
    expect(web.slots!.holders[0]!.heldForMs).toBeGreaterThanOrEqual(0);
    expect((await fetch(`${serve.url}/api/v1/groups/${group}/nodes/n3`)).status).toBe(200);
    expect((await fetch(`${serve.url}/api/v1/groups/nope`)).status).toBe(404);
    expect((await fetch(`${serve.url}/nothing-here`)).status).toBe(404);
  });

  test('a record change reaches an open event stream within one second', async () => {
    const signal = AbortSignal.timeout(20_000);
    const arrived = nextEvent<DashboardView>(serve.url, (v) => webOf(v)?.nodes.find((n) => n.machineId === 'n3')?.state === 'downloading', signal);
    // Let the stream open and deliver its first view before the change.
    await new Promise((r) => setTimeout(r, 200));
    const t0 = performance.now();
    await fleet.publish('n3', { state: 'downloading', stateSince: new Date().toISOString() });
    const { view, at } = await arrived;
    const latencyMs = at - t0;
    console.log(`dashboard: record change to server-sent event in ${latencyMs.toFixed(0)} ms`);
    expect(latencyMs).toBeLessThan(1000);
    expect(webOf(view)!.nodes.find((n) => n.machineId === 'n3')!.history.map((h) => h.state)).toEqual(['staged', 'downloading']);
  });

  test('/metrics parses as Prometheus text with the fleet gauges', async () => {
    const res = await fetch(`${serve.url}/metrics`);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const families = parsePrometheus(await res.text());
    const nodes = family(families, 'keel_fleet_nodes').metrics.map((m) => [m.labels!.version, m.labels!.state, Number(m.value)]);
    expect(nodes).toEqual(expect.arrayContaining([['2.0.0', 'steady', 1], ['1.0.0', 'rebooting', 1]]));
    expect(family(families, 'keel_fleet_reboot_slot_holders').metrics[0]!.value).toBe('1');
    expect(family(families, 'keel_fleet_reboot_slot_held_seconds').metrics[0]!.labels).toEqual({ group, holder: 'n2', hostname: 'web-n2' });
    expect(family(families, 'keel_fleet_etcd_up').metrics[0]!.value).toBe('1');
  });

  test('halt needs an operator: none 401, bob 403, alice halts it in etcd, and each is audited with who', async () => {
    const path = `/api/v1/groups/${group}/rollouts/2.0.0/halt`;
    expect((await post(path, { confirm: '2.0.0', reason: 'canary' })).status).toBe(401);
    expect((await post(path, { confirm: '2.0.0', reason: 'canary' }, bobToken)).status).toBe(403);
    expect((await post(path, { reason: 'canary' }, aliceToken)).status).toBe(400);
    expect((await fleet.store.readRollout(group, '2.0.0'))?.halted).toBeUndefined();
    const res = await post(path, { confirm: '2.0.0', reason: 'canary errors in eu-1' }, aliceToken);
    expect(res.status).toBe(200);
    expect((await fleet.store.readRollout(group, '2.0.0'))?.halted).toMatchObject({ by: 'operator', reason: 'canary errors in eu-1' });
    const audit = await fleet.store.client.getAll().prefix(auditPrefix(group)).strings();
    const records = Object.entries(audit).map(([k, v]) => readAuditRecord(k, v));
    expect(records).toEqual([{ record: expect.objectContaining({ who: { name: 'alice', via: 'token' }, action: 'halt', target: '2.0.0', reason: 'canary errors in eu-1', result: 'changed' }) }]);
    // The halt and its audit record are two writes: a view may come between them.
    const view = await viewWhere((v) => webOf(v)?.rollouts[0]?.state === 'halted' && (webOf(v)?.audit.length ?? 0) > 0);
    expect(webOf(view)!.audit[0]).toMatchObject({ action: 'halt', who: { name: 'alice' } });
    expect((await post(`/api/v1/groups/${group}/rollouts/2.0.0/resume`, { confirm: '2.0.0' }, aliceToken)).status).toBe(200);
    expect((await fleet.store.readRollout(group, '2.0.0'))?.halted).toBeUndefined();
  });

  test('releasing a stuck slot frees it in the lock, and another node can take it', async () => {
    expect((await post(`/api/v1/groups/${group}/slots/n2/release`, { confirm: 'n2' })).status).toBe(401);
    expect((await fleet.lock.status()).holders.map((h) => h.id)).toEqual(['n2']);
    const res = await post(`/api/v1/groups/${group}/slots/n2/release`, { confirm: 'n2' }, aliceToken);
    expect(await res.json()).toEqual({ group, holder: 'n2', changed: true });
    expect((await fleet.lock.status()).holders).toEqual([]);
    await fleet.lock.acquire('n3', { wait: false });
    const view = await viewWhere((v) => webOf(v)?.slots?.holders[0]?.holder === 'n3');
    expect(webOf(view)!.slots!.holders[0]!.hostname).toBe('web-n3');
    await fleet.lock.release('n3');
  });

  test('etcd killed: the view keeps the last state and says so; restarted: it reconnects by itself', async () => {
    const member = fleet.etcd.members[0]!;
    await fleet.etcd.kill(member);
    const down = await viewWhere((v) => !v.etcd.connected);
    expect(down.etcd.error).toBeTruthy();
    expect(webOf(down)!.nodes).toHaveLength(3);
    const api = (await (await fetch(`${serve.url}/api/v1/view`)).json()) as DashboardView;
    expect(api.etcd.connected).toBe(false);
    expect(family(parsePrometheus(await (await fetch(`${serve.url}/metrics`)).text()), 'keel_fleet_etcd_up').metrics[0]!.value).toBe('0');
    await fleet.etcd.restart(member);
    const up = await viewWhere((v) => v.etcd.connected);
    expect(webOf(up)!.nodes).toHaveLength(3);
    // The watch works again: a change after the restart shows.
    await fleet.publish('n1', { version: '2.0.0', slot: 'b', state: 'checking', stateSince: new Date().toISOString() });
    await viewWhere((v) => webOf(v)?.nodes[0]?.state === 'checking');
  });
});

describe('keel lock serve --dashboard', () => {
  test('one listener answers FleetLock and the dashboard, with the lock server\'s operators', async () => {
    const lock = await startServe(['lock', 'serve', '--endpoints', fleet.etcd.endpoints.join(','), '--group', group, '--listen', '127.0.0.1:0', '--tokens', fleet.tokensFile, '--operators', 'alice', '--dashboard']);
    try {
      const status = await fetch(`${lock.url}/v1/status?group=${group}`, { headers: { authorization: `Bearer ${aliceToken}` } });
      expect(status.status).toBe(200);
      const view = (await (await fetch(`${lock.url}/api/v1/view`)).json()) as DashboardView;
      expect(webOf(view)!.nodes).toHaveLength(3);
      expect((await fetch(`${lock.url}/`)).headers.get('content-type')).toContain('text/html');
      const halt = await fetch(`${lock.url}/api/v1/groups/${group}/rollouts/2.0.0/halt`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${bobToken}` }, body: '{"confirm":"2.0.0","reason":"x"}' });
      expect(halt.status).toBe(403);
    } finally {
      await lock.stop();
    }
  });
});
