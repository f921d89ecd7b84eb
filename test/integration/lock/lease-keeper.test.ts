// The lease keeper against a real etcd member: many leases kept alive over one
// LeaseKeepAlive stream (etcd's own metrics count the streams), a released lease expires and
// a revoked one goes at once while the others stay, a lease revoked behind the keeper's back
// is reported lost, and a stream broken under it (the TCP connection cut by a proxy in
// front of etcd) is opened again with every lease kept.
import { once } from 'node:events';
import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Etcd3 } from 'etcd3';
import { startEtcd, type EtcdCluster } from '../../harness/etcd.js';
import { etcdOptions } from '../../../src/lock/etcd-connection.js';
import { leaseKeeperFor, type KeptLease } from '../../../src/lock/lease-keeper.js';

let etcd: EtcdCluster;
let proxy: Server;
const sockets = new Set<Socket>();
const clients: Etcd3[] = [];
const ttlS = 3;

/** A TCP proxy to the member's client port, so a test can cut the client's connection. */
async function startProxy(target: URL): Promise<Server> {
  const server = createServer((inbound) => {
    const outbound = createConnection({ host: target.hostname, port: Number(target.port) });
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    inbound.pipe(outbound).pipe(inbound);
    inbound.on('close', () => outbound.destroy());
    outbound.on('close', () => inbound.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

function client(endpoint: string): Etcd3 {
  const c = new Etcd3(etcdOptions({ endpoints: [endpoint], callTimeoutMs: 5000 }));
  clients.push(c);
  return c;
}

/** etcd's count of LeaseKeepAlive streams opened and keep-alives received so far. */
async function keepAliveMetrics(): Promise<{ streams: number; messages: number }> {
  const text = await (await fetch(`${etcd.members[0]!.clientUrl}/metrics`)).text();
  const value = (metric: string) => Number(new RegExp(`^${metric}\\{grpc_method="LeaseKeepAlive"[^}]*\\} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  return { streams: value('grpc_server_started_total'), messages: value('grpc_server_msg_received_total') };
}

/** Grants `n` leases and puts one key on each. */
async function leasedKeys(c: Etcd3, prefix: string, n: number): Promise<{ leases: KeptLease[]; lost: Error[] }> {
  const keeper = leaseKeeperFor(c);
  const lost: Error[] = [];
  const leases = Array.from({ length: n }, () => keeper.lease(ttlS));
  for (const l of leases) l.onLost((e) => lost.push(e));
  const ids = await Promise.all(leases.map((l) => l.grant()));
  await Promise.all(ids.map((id, i) => c.put(`${prefix}${String(i).padStart(4, '0')}`).value('x').lease(id).exec()));
  return { leases, lost };
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
const count = async (c: Etcd3, prefix: string) => c.getAll().prefix(prefix).count();

beforeAll(async () => {
  etcd = await startEtcd();
  proxy = await startProxy(new URL(etcd.members[0]!.clientUrl));
});
afterAll(async () => {
  for (const c of clients) c.close();
  proxy?.close();
  for (const s of sockets) s.destroy();
  await etcd?.stop();
});

describe('lease keeper against etcd', () => {
  test('two hundred leases stay alive over one keep-alive stream for several ttls', async () => {
    const c = client(etcd.endpoints[0]!);
    const before = await keepAliveMetrics();
    const { leases, lost } = await leasedKeys(c, 'many/', 200);
    await pause(4 * ttlS * 1000);
    expect(await count(c, 'many/')).toBe(200);
    expect(lost).toEqual([]);
    const after = await keepAliveMetrics();
    expect(after.streams - before.streams).toBe(1);
    // Each lease renewed every third of its ttl: at least 3 keep-alives each in 4 ttls.
    expect(after.messages - before.messages).toBeGreaterThanOrEqual(200 * 3);
    const id = await leases[0]!.grant();
    expect(Number((await c.leaseClient.leaseTimeToLive({ ID: id })).TTL)).toBeGreaterThan(0);
    await Promise.all(leases.map((l) => l.revoke()));
    expect(await count(c, 'many/')).toBe(0);
  });

  test('a released lease expires and a revoked one goes at once; the others stay; one revoked elsewhere is lost', async () => {
    const c = client(etcd.endpoints[0]!);
    const other = client(etcd.endpoints[0]!);
    const { leases, lost } = await leasedKeys(c, 'stop/', 4);
    const [released, revoked, revokedElsewhere] = leases as [KeptLease, KeptLease, KeptLease, KeptLease];
    const gone = new Promise<void>((resolve) => {
      void other
        .watch()
        .key('stop/0000')
        .create()
        .then((w) => w.on('delete', () => resolve()));
    });
    released.release();
    await revoked.revoke();
    expect(await other.get('stop/0001').string()).toBeNull();
    await gone; // the released lease's key, at its ttl
    const elsewhere = await revokedElsewhere.grant();
    const told = new Promise<Error>((resolve) => revokedElsewhere.onLost(resolve));
    await other.leaseClient.leaseRevoke({ ID: elsewhere });
    expect((await told).message).toMatch(/is gone/);
    await pause(2 * ttlS * 1000);
    expect(await c.getAll().prefix('stop/').keys()).toEqual(['stop/0003']);
    expect(lost.map((e) => e.message)).toHaveLength(1);
    await leases[3]!.revoke();
  });

  test('a stream broken under the keeper is opened again and every lease is kept', async () => {
    const via = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    const c = client(via);
    const { leases, lost } = await leasedKeys(c, 'cut/', 50);
    await pause(ttlS * 1000);
    const before = await keepAliveMetrics();
    for (const s of sockets) s.destroy();
    await pause(4 * ttlS * 1000);
    const after = await keepAliveMetrics();
    expect(after.streams - before.streams).toBe(1);
    expect(lost).toEqual([]);
    const direct = client(etcd.endpoints[0]!);
    expect(await count(direct, 'cut/')).toBe(50);
    await Promise.all(leases.map((l) => l.revoke()));
    expect(await count(direct, 'cut/')).toBe(0);
  });
});
