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
// while the test kills the leader 5 times. node-2's health gate fails on 2.0.0: with
// max_failures 2 the rollout goes on; with 1 it halts, and the other nodes, which begin once
// node-2 has failed, stay staged on 1.0.0 through the remaining kills, reading the halt before
// asking for a slot (or, when that read fails during a kill, taking one, seeing the halt and
// giving it back). The kills are paced by the reboots: the i-th reboot is followed by the
// i-th kill, and that node boots only after it, so every kill lands while a slot is held and
// other agents are taking the lock, recording starts, successes and the failure (once every
// node is done or held, the remaining kills come at once). Afterwards: the rollout record's
// counts equal the node records, etcd's history of the semaphore never shows more holders
// than slots, and an operator's halt set before the kills still holds.
const key = makeKey();
const ids = ['node-1', 'node-2', 'node-3', 'node-4'];
const bad = 'node-2';
const slots = 2;
const kills = 5;
let work: string;
let cluster: EtcdCluster;
let store: FleetStore;
/** The lock group (and host trees) of the variant running. */
let group = '';

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

/** The kills and reboots so far, and the lives that ended or are held by a halt; each side waits for the other. */
let pace = { reboots: 0, kills: 0, killed: [] as string[], settled: 0, wake: [] as (() => void)[] };
const nudge = () => pace.wake.splice(0).forEach((w) => w());
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise<void>((r) => pace.wake.push(r));
}

const rootOf = (id: string) => join(work, group, id);

async function startAgent(id: string): Promise<Node> {
  const root = rootOf(id);
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
  const b = await bootOnce(rootOf(id));
  const healthy = !(id === bad && b.version === '2.0.0');
  const checks = [{ name: 'web', ok: healthy, detail: healthy ? 'active' : `web.service is failed on ${b.version}` }];
  await writeVerdict(rootOf(id), { ok: healthy, at: new Date().toISOString(), checks });
  return { node: await startAgent(id), version: b.version };
}

/** The agent's refusals to reboot into the halted 2.0.0: before asking for a slot, or after taking one. */
const refusals = (n: Node) => n.log.filter((l) => /not (asking for a reboot slot for|rebooting into) 2\.0\.0: rollout of 2\.0\.0 is halted/.test(l)).length;

/**
 * One node's rollout: stage, reboot when a slot is free, boot after the next kill, until
 * healthy on 2.0.0 or back on 1.0.0. A node the halt holds back keeps asking until the kills
 * are over and it was refused once more after them; it answers 'held'.
 */
async function life(id: string, after: () => boolean = () => true): Promise<'done' | 'held'> {
  await until(after);
  let { node } = await boot(id);
  await drive(node, (s) => s.kind === 'staged');
  let held: number | undefined;
  for (;;) {
    const before = node.reboots;
    const n = node;
    await drive(n, () => {
      if (held === undefined && refusals(n) > 0) ((held = Infinity), pace.settled++, nudge());
      if (held === Infinity && pace.kills === kills) held = refusals(n);
      return n.reboots > before || (held !== undefined && refusals(n) > held);
    });
    if (n.reboots === before) return 'held';
    const seq = pace.reboots;
    await until(() => pace.kills >= Math.min(seq, kills));
    const b = await boot(id);
    node = b.node;
    if (b.version === '2.0.0' && id === bad) continue; // unhealthy: rebooted until its tries run out
    await drive(node, (s) => s.kind === 'steady' && (b.version === '2.0.0' || s.lastCheckMs !== undefined));
    pace.settled++;
    nudge();
    return 'done';
  }
}

/** Kills the leader after each of the first reboots, lets the rebooted node boot, then restarts the member. */
async function killer(): Promise<void> {
  for (let i = 1; i <= kills; i++) {
    await until(() => pace.reboots >= i || pace.settled === ids.length);
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

/** Host trees of one variant under work/<group>, its lock group with `slots` slots. */
async function setUp(maxFailures: number): Promise<void> {
  pace = { reboots: 0, kills: 0, killed: [], settled: 0, wake: [] };
  nodes.clear();
  for (const id of ids) {
    const root = rootOf(id);
    await makeHostTree(root, '1.0.0', {
      'usr/lib/keel/update-trust.pub': key.publicPem,
      'etc/machine-id': `${id}\n`,
      'etc/keel/update.conf': `REBOOT_STRATEGY=etcd-lock\nSERVER=${join(work, 'repo')}\nPOSTPONE_WHILE_LOGGED_IN=false\nROLLOUT_MAX_FAILURES=${maxFailures}\nHOSTNAME_OVERRIDE=host-${id}\n`,
      'etc/keel/lock.conf': `ENDPOINTS=${cluster.endpoints.join(',')}\nGROUP=${group}\n`,
    });
    await mkdir(join(root, 'slots'), { recursive: true });
    await writeFile(join(root, 'slots/slot-a.img'), 'slot a\n');
  }
  const lock = new SemaphoreLock({ store: openEtcdStore({ endpoints: cluster.endpoints }), group });
  await lock.setMax(slots);
  await lock.close();
}

beforeAll(async () => {
  work = await tempDir('keel-fleet-leader-kill-');
  cluster = await startEtcd({ members: 3 });
  store = new FleetStore({ endpoints: cluster.endpoints });
  for (const v of ['1.0.0', '2.0.0']) await publish(join(work, 'repo'), work, key.signer, v);
}, 60_000);

afterAll(async () => {
  for (const n of nodes.values()) await n.env.closeLock().catch(() => undefined);
  await store?.close();
  await cluster?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

test.each([
  { group: 'goes-on', maxFailures: 2, halts: false },
  { group: 'halts', maxFailures: 1, halts: true },
])('the leader killed 5 times during a rollout, max_failures $maxFailures: counts equal the node records, no over-grant, the halts hold', async (variant) => {
  for (const n of nodes.values()) await n.env.closeLock();
  group = variant.group;
  await setUp(variant.maxFailures);
  const operatorHalt = await store.halt(group, '3.0.0', 'hold 3.0.0 until the 2.0.0 rollout is done');
  expect(operatorHalt.ok).toBe(true);
  // Halting: the others begin once node-2 rebooted its failing slot, so after its failure halted 2.0.0.
  const lives = ids.map((id) => (variant.halts && id !== bad ? life(id, () => pace.reboots >= 2) : life(id)));
  const [outcomes] = await Promise.all([Promise.all(lives), killer()]);
  expect(pace.killed).toHaveLength(kills);
  for (const n of nodes.values()) await n.fleet.flushed();
  const held = ids.filter((_, i) => outcomes[i] === 'held');

  // Each node's own record, as its agent wrote it last.
  const read = fleetStatus((await store.read(group)).input);
  expect(read.warnings).toEqual([]);
  expect(read.nodes.filter((n) => n.lost)).toEqual([]);
  const records = new Map(read.nodes.map((n) => [n.record.machineId, n.record]));
  expect([...records.keys()].sort()).toEqual(ids);
  expect(ids.map((id) => records.get(id)!.hostname)).toEqual(ids.map((id) => `host-${id}`));
  const onNew = ids.filter((id) => records.get(id)!.version === '2.0.0' && records.get(id)!.health?.verdict === 'passed');
  const rolledBack = ids.filter((id) => records.get(id)!.version === '1.0.0' && /2\.0\.0 failed its health gate and ran out of tries/.test(records.get(id)!.lastError?.message ?? ''));
  const waiting = ids.filter((id) => records.get(id)!.version === '1.0.0' && records.get(id)!.state === 'staged' && records.get(id)!.staged === '2.0.0');
  expect(rolledBack).toEqual([bad]);
  // On a failure, say where each node ended and what its agent said last.
  const ended = ids.map((id) => `${id}: ${JSON.stringify({ ...records.get(id), outcome: outcomes[ids.indexOf(id)] })}\n  ${nodes.get(id)!.log.slice(-6).join('\n  ')}`).join('\n');
  expect([...onNew, ...rolledBack, ...waiting].sort(), ended).toEqual(ids);
  expect(waiting).toEqual(held);
  expect(held).toEqual(variant.halts ? ids.filter((id) => id !== bad) : []);
  for (const id of held) expect(nodes.get(id)!.reboots).toBe(0);

  const rollout = await store.readRollout(group, '2.0.0');
  expect({ started: [...rollout!.started].sort(), succeeded: [...rollout!.succeeded].sort(), failed: rollout!.failed.map((f) => f.machineId) }).toEqual({
    started: [...onNew, ...rolledBack].sort(),
    succeeded: onNew,
    failed: rolledBack,
  });
  if (variant.halts) expect(rollout!.halted).toMatchObject({ by: 'policy', machineId: bad, error: expect.stringMatching(/^2\.0\.0 failed its health gate/) });
  else expect(rollout!.halted).toBeUndefined();

  // etcd keeps every revision (nothing compacted): no stored semaphore ever had more holders than slots.
  const history = await semaphoreHistory(group);
  // Set-max, a take per node that rebooted (each its own swap), and gives (releases at once may be folded into one swap: docs/lock.md).
  expect(history.length).toBeGreaterThanOrEqual(1 + (onNew.length + rolledBack.length) + 1);
  for (const id of [...onNew, ...rolledBack]) expect(history.some((h) => h.holders.includes(id)), `${id} in a stored semaphore`).toBe(true);
  expect(history.filter((h) => h.holders.length > h.totalSlots || new Set(h.holders).size !== h.holders.length)).toEqual([]);
  expect(Math.max(...history.map((h) => h.holders.length))).toBeLessThanOrEqual(slots);
  expect(history[0]!.holders).toEqual([]);

  // The halt set before the kills is still there, unchanged, and still refuses a start.
  const after = await store.readRollout(group, '3.0.0');
  expect(after?.halted).toEqual(operatorHalt.record.halted);
  const refused = await store.recordStarted(group, '3.0.0', 'node-1');
  expect(refused.ok).toBe(false);
}, 60_000);
