// The agent's etcd side against a real etcd member: its lock and its fleet records share one
// client (one TCP connection to the member), and the pre-reboot check "no node of group G is
// failed or rebooting" reads G's live records and lock holders at one revision.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { readFile, readdir, readlink, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { startEtcd, type EtcdCluster } from '../../harness/etcd.js';
import { FleetStore } from '../../../src/fleet/fleet-store.js';
import { nodeRecord, type NodeRecord } from '../../../src/fleet/node-record.js';
import { PreRebootStage } from '../../../src/update/pre-reboot.js';
import { openAgentEtcd, type AgentEtcd } from '../../../src/update/update-lock.js';
import { updateConfigOf } from '../../../src/update/update-config.js';
import { makeHostTree } from '../update/boot-tree.js';
import { tempDir } from '../../unit/update/fixture.js';

let cluster: EtcdCluster;
let work: string;
let store: FleetStore;
const opened: AgentEtcd[] = [];
const quiet = { error: () => undefined, warning: () => undefined, notice: () => undefined, info: () => undefined, debug: () => undefined };
const record = (id: string, over: Partial<NodeRecord> = {}): NodeRecord =>
  nodeRecord({ machineId: id, hostname: `host-${id}`, version: '1.0.0', slot: 'a', state: 'steady', stateSince: new Date().toISOString(), updatedAt: new Date().toISOString(), ...over });

/** An agent's etcd side on a host tree whose lock.conf names the member and group `web`. */
async function agent(id: string, hostname?: string): Promise<AgentEtcd> {
  const root = join(work, id);
  await makeHostTree(root, '1.0.0', { 'etc/machine-id': `${id}\n`, 'etc/keel/lock.conf': `ENDPOINTS=${cluster.endpoints.join(',')}\nGROUP=web\n` });
  const config = updateConfigOf(hostname ? { HOSTNAME_OVERRIDE: hostname } : {});
  const etcd = await openAgentEtcd(root, config, quiet, { fleet: true });
  opened.push(etcd);
  return etcd;
}

/** Established TCP connections of this process to `port` (socket inodes): its socket fds matched against /proc/net/tcp{,6}. */
async function connectionsTo(port: number): Promise<Set<string>> {
  const inodes = new Set<string>();
  for (const fd of await readdir('/proc/self/fd')) {
    const link = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
    const m = /^socket:\[(\d+)\]$/.exec(link);
    if (m) inodes.add(m[1]!);
  }
  const found = new Set<string>();
  for (const table of ['/proc/self/net/tcp', '/proc/self/net/tcp6']) {
    const lines = (await readFile(table, 'utf8').catch(() => '')).split('\n').slice(1);
    for (const line of lines) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const remotePort = parseInt(f[2]!.split(':')[1]!, 16);
      if (remotePort === port && f[3] === '01' && inodes.has(f[9]!)) found.add(f[9]!);
    }
  }
  return found;
}

beforeAll(async () => {
  work = await tempDir('keel-agent-etcd-');
  cluster = await startEtcd();
}, 60_000);

afterAll(async () => {
  for (const e of opened) {
    await e.fleet?.close(false).catch(() => undefined);
    await (await e.openLock()).close().catch(() => undefined);
  }
  await store?.close({ revoke: true });
  await cluster?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

test("an agent's lock and fleet records share one etcd connection", async () => {
  const port = Number(new URL(cluster.endpoints[0]!).port);
  // The harness's health probe may keep an HTTP connection open: count only connections made after it.
  const before = await connectionsTo(port);
  const a = await agent('solo', 'solo.example');
  a.fleet!.publish({ version: '1.0.0', slot: 'a', state: 'steady', stateSince: new Date().toISOString() });
  await a.fleet!.flushed();
  const lock = await a.openLock();
  await lock.acquire('solo', { wait: false });
  expect((await lock.status()).holders.map((h) => h.id)).toEqual(['solo']);
  expect([...(await connectionsTo(port))].filter((c) => !before.has(c))).toHaveLength(1);
  await lock.release('solo');
  await a.fleet!.close(true);
  await lock.close();
  // The store the test reads with is opened only now, so the count above was the agent's alone.
  store = new FleetStore({ endpoints: cluster.endpoints });
  const lost = (await store.read('web')).input.entries.get('/keel/fleet/web/lost/solo');
  expect(JSON.parse(lost!).hostname).toBe('solo.example');
}, 30_000);

test('group clear: refused while another node of the group is failed, rebooting or holds a slot; clear once they are not', async () => {
  store ??= new FleetStore({ endpoints: cluster.endpoints });
  const me = await agent('node-a');
  const other = await agent('node-c');
  const stage = new PreRebootStage(join(work, 'node-a'), { units: [], groupClear: 'web' }, { group: me.fleet!.groupProbe() });
  for (const id of ['node-a', 'node-b', 'node-d', 'node-e']) await store.publishNode('web', record(id));
  expect(await stage.run()).toBeUndefined();

  await store.publishNode('web', record('node-b', { state: 'rolled-back' }));
  await store.publishNode('web', record('node-d', { state: 'rebooting', rebootSlot: { since: new Date().toISOString() } }));
  const lock = await other.openLock();
  await lock.acquire('node-c', { wait: false });
  expect(await stage.run()).toBe('pre-reboot group web is not clear: node-b (host-node-b) is rolled-back, node-d (host-node-d) is rebooting, node-c holds a reboot slot');

  // The check reads only the copies of the nodes that need attention; paging reads the same snapshot as one read.
  const paged = await store.readAttention('web', 1);
  const whole = await store.readAttention('web');
  expect([...paged.entries.keys()]).toEqual(['/keel/fleet/web/attention/node-b', '/keel/fleet/web/attention/node-d']);
  expect([paged.entries, paged.semaphore]).toEqual([whole.entries, whole.semaphore]);

  await store.publishNode('web', record('node-b'));
  await store.publishNode('web', record('node-d'));
  await lock.release('node-c');
  expect(await stage.run()).toBeUndefined();
  // Steady again: their copies are gone with the write that said so.
  expect([...(await store.readAttention('web')).entries.keys()]).toEqual([]);
  // Its own slot and state never block this node.
  const mine = await me.openLock();
  await mine.acquire('node-a', { wait: false });
  await store.publishNode('web', record('node-a', { state: 'rebooting' }));
  expect(await stage.run()).toBeUndefined();
  await mine.release('node-a');
}, 30_000);
