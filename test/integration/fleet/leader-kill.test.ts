import { afterAll, beforeAll, expect, test } from 'vitest';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startEtcd, type EtcdCluster, type EtcdMember } from '../../harness/etcd.js';
import { FleetStore } from '../../../src/fleet/fleet-store.js';
import { fleetStatus } from '../../../src/fleet/fleet-status.js';
import { semaphoreKey } from '../../../src/lock/group-keys.js';
import { openEtcdStore } from '../../../src/lock/open-reboot-lock.js';
import { parseSemaphore } from '../../../src/lock/semaphore.js';
import { SemaphoreLock } from '../../../src/lock/semaphore-lock.js';
import type { AgentState } from '../../../src/update/agent-state.js';
import { tick } from '../../../src/update/agent-tick.js';
import { hostEnv } from '../../../src/update/agent-host.js';
import { writeVerdict } from '../../../src/update/health-gate.js';
import { slotFilesIn } from '../../../src/update/slot-devices.js';
import { loadUpdateConfig } from '../../../src/update/update-config.js';
import { openAgentEtcd } from '../../../src/update/update-lock.js';
import { makeKey, publish, tempDir } from '../../unit/update/fixture.js';
import { bootOnce, makeHostTree } from '../update/boot-tree.js';

// Four update agents of one group roll 2.0.0 through 2 reboot slots on a three-member etcd
// while the test kills the leader 5 times. node-2's health gate fails on 2.0.0 and
// max_failures is 2, so the rollout goes on. The kills are paced by the reboots: the i-th
// reboot is followed by the i-th kill, and that node boots only after it, so every kill
// lands while a slot is held and other agents are taking the lock, recording starts,
// successes and the failure. Afterwards: the rollout record's counts equal the node records,
// etcd's history of the semaphore never shows more holders than slots, and an operator's
// halt set before the kills still holds.
const key = makeKey();
const ids = ['node-1', 'node-2', 'node-3', 'node-4'];
const bad = 'node-2';
const slots = 2;
const kills = 5;
let work: string;
let cluster: EtcdCluster;
let store: FleetStore;

interface Node {
  id: string;
  env: ReturnType<typeof hostEnv>;
  fleet: NonNullable<Awaited<ReturnType<typeof openAgentEtcd>>['fleet']>;
  state: AgentState;
  reboots: number;
  log: string[];
}
const nodes = new Map<string, Node>();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The kills so far and the reboots so far; each side waits for the other. */
const pace = { reboots: 0, kills: 0, killed: [] as string[], wake: [] as (() => void)[] };
const nudge = () => pace.wake.splice(0).forEach((w) => w());
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise<void>((r) => pace.wake.push(r));
}

async function startAgent(id: string): Promise<Node> {
  const root = join(work, id);
  const config = await loadUpdateConfig(root);
  const log: string[] = [];
  const push = (level: string) => (m: string) => void log.push(`${level}: ${m}`);
  const logger = { error: push('error'), warning: push('warning'), notice: push('notice'), info: push('info'), debug: () => undefined };
  const etcd = await openAgentEtcd(root, config, logger, { fleet: true });
  if (!etcd.fleet) throw new Error(`${id}: no fleet records although lock.conf names etcd`);
  const node: Node = { id, state: { kind: 'start' }, reboots: 0, log, env: undefined as never, fleet: etcd.fleet };
  const rebooter = async () => {
    node.reboots++;
    pace.reboots++;
    nudge();
  };
  node.env = hostEnv({ root, config, log: logger, slotTarget: slotFilesIn(join(root, 'slots')), rebooter, openLock: etcd.openLock, onClose: etcd.close, fleet: etcd.fleet });
  nodes.set(id, node);
  return node;
}

/** Ticks as the daemon does: an error is logged and the same state tried again; a tick that only waits pauses a little. */
async function drive(node: Node, done: (s: AgentState) => boolean): Promise<void> {
  const deadline = Date.now() + 45_000;
  while (!done(node.state)) {
    if (Date.now() > deadline) throw new Error(`${node.id}: stuck in ${node.state.kind}; log:\n${node.log.join('\n')}`);
    let next: AgentState;
    try {
      next = (await tick(node.state, node.env)).state;
    } catch (error) {
      node.log.push(`tick failed: ${(error as Error).message}`);
      await sleep(100);
      continue;
    }
    if (next.kind !== node.state.kind) await node.env.stateChanged(next);
    else await sleep(50);
    node.state = next;
  }
}

/** A boot of the node's tree with its health verdict, and a fresh agent on it. */
async function boot(id: string): Promise<{ node: Node; version: string }> {
  await nodes.get(id)?.env.closeLock();
  const b = await bootOnce(join(work, id));
  const healthy = !(id === bad && b.version === '2.0.0');
  const checks = [{ name: 'web', ok: healthy, detail: healthy ? 'active' : `web.service is failed on ${b.version}` }];
  await writeVerdict(join(work, id), { ok: healthy, at: new Date().toISOString(), checks });
  return { node: await startAgent(id), version: b.version };
}

/** One node's rollout: stage, reboot when a slot is free, boot after the next kill, until healthy on 2.0.0 or back on 1.0.0. */
async function life(id: string): Promise<void> {
  let { node } = await boot(id);
  await drive(node, (s) => s.kind === 'staged');
  for (;;) {
    const before = node.reboots;
    await drive(node, () => node.reboots > before);
    const seq = pace.reboots;
    await until(() => pace.kills >= Math.min(seq, kills));
    const b = await boot(id);
    node = b.node;
    if (b.version === '2.0.0' && id === bad) continue; // unhealthy: rebooted until its tries run out
    await drive(node, (s) => s.kind === 'steady' && (b.version === '2.0.0' || s.lastCheckMs !== undefined));
    return;
  }
}

/** Kills the leader after each of the first reboots, lets the rebooted node boot, then restarts the member. */
async function killer(): Promise<void> {
  for (let i = 1; i <= kills; i++) {
    await until(() => pace.reboots >= i);
    const leader: EtcdMember = await cluster.leader();
    await cluster.kill(leader);
    pace.killed.push(leader.name);
    pace.kills = i;
    nudge();
    await sleep(300);
    await cluster.restart(leader);
  }
}

/** Every stored version of the semaphore, newest first: a read at each previous mod revision. */
async function semaphoreHistory(group: string): Promise<{ revision: number; totalSlots: number; holders: string[] }[]> {
  const k = Buffer.from(semaphoreKey(group));
  const out = [];
  let res = await store.client.kv.range({ key: k });
  while (res.kvs[0]) {
    const kv = res.kvs[0];
    const s = parseSemaphore(kv.value.toString('utf8'));
    out.push({ revision: Number(kv.mod_revision), totalSlots: s.totalSlots, holders: s.holders });
    if (Number(kv.version) <= 1) break;
    res = await store.client.kv.range({ key: k, revision: Number(kv.mod_revision) - 1 });
  }
  return out;
}

beforeAll(async () => {
  work = await tempDir('keel-fleet-leader-kill-');
  cluster = await startEtcd({ members: 3 });
  store = new FleetStore({ endpoints: cluster.endpoints });
  for (const v of ['1.0.0', '2.0.0']) await publish(join(work, 'repo'), work, key.signer, v);
  for (const id of ids) {
    const root = join(work, id);
    await makeHostTree(root, '1.0.0', {
      'usr/lib/keel/update-trust.pub': key.publicPem,
      'etc/machine-id': `${id}\n`,
      'etc/keel/update.conf': `REBOOT_STRATEGY=etcd-lock\nSERVER=${join(work, 'repo')}\nPOSTPONE_WHILE_LOGGED_IN=false\nROLLOUT_MAX_FAILURES=2\nHOSTNAME_OVERRIDE=host-${id}\n`,
      'etc/keel/lock.conf': `ENDPOINTS=${cluster.endpoints.join(',')}\n`,
    });
    await mkdir(join(root, 'slots'), { recursive: true });
    await writeFile(join(root, 'slots/slot-a.img'), 'slot a\n');
  }
  const lock = new SemaphoreLock({ store: openEtcdStore({ endpoints: cluster.endpoints }), group: 'default' });
  await lock.setMax(slots);
  await lock.close();
}, 60_000);

afterAll(async () => {
  for (const n of nodes.values()) await n.env.closeLock().catch(() => undefined);
  await store?.close();
  await cluster?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

test('the leader killed 5 times during a rollout: counts equal the node records, no over-grant, the halt holds', async () => {
  const operatorHalt = await store.halt('default', '3.0.0', 'hold 3.0.0 until the 2.0.0 rollout is done');
  expect(operatorHalt.ok).toBe(true);
  await Promise.all([...ids.map(life), killer()]);
  expect(pace.killed).toHaveLength(kills);
  for (const n of nodes.values()) await n.fleet.flushed();

  // Each node's own record, as its agent wrote it last.
  const read = fleetStatus((await store.read('default')).input);
  expect(read.warnings).toEqual([]);
  expect(read.nodes.filter((n) => n.lost)).toEqual([]);
  const records = new Map(read.nodes.map((n) => [n.record.machineId, n.record]));
  expect([...records.keys()].sort()).toEqual(ids);
  const onNew = ids.filter((id) => records.get(id)!.version === '2.0.0' && records.get(id)!.health?.verdict === 'passed');
  const rolledBack = ids.filter((id) => records.get(id)!.version === '1.0.0' && /2\.0\.0 failed its health gate and ran out of tries/.test(records.get(id)!.lastError?.message ?? ''));
  expect(onNew).toEqual(['node-1', 'node-3', 'node-4']);
  expect(rolledBack).toEqual([bad]);
  expect(ids.map((id) => records.get(id)!.hostname)).toEqual(ids.map((id) => `host-${id}`));

  const rollout = await store.readRollout('default', '2.0.0');
  expect({ started: [...rollout!.started].sort(), succeeded: [...rollout!.succeeded].sort(), failed: rollout!.failed.map((f) => f.machineId), halted: rollout!.halted }).toEqual({
    started: [...onNew, ...rolledBack].sort(),
    succeeded: onNew,
    failed: rolledBack,
    halted: undefined,
  });

  // etcd keeps every revision (nothing compacted): no stored semaphore ever had more holders than slots.
  const history = await semaphoreHistory('default');
  expect(history.length).toBeGreaterThanOrEqual(1 + 2 * ids.length); // set-max, then a take and a give per node
  const worst = Math.max(...history.map((h) => h.holders.length));
  expect(history.filter((h) => h.holders.length > h.totalSlots || new Set(h.holders).size !== h.holders.length)).toEqual([]);
  expect(worst).toBeLessThanOrEqual(slots);
  expect(history[0]!.holders).toEqual([]);

  // The halt set before the kills is still there, unchanged, and still refuses a start.
  const after = await store.readRollout('default', '3.0.0');
  expect(after?.halted).toEqual(operatorHalt.record.halted);
  const refused = await store.recordStarted('default', '3.0.0', 'node-1');
  expect(refused.ok).toBe(false);
}, 90_000);
