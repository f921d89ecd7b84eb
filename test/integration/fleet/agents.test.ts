import { afterAll, beforeAll, expect, test } from 'vitest';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { startEtcd, type EtcdCluster } from '../../harness/etcd.js';
import { FleetStore } from '../../../src/fleet/fleet-store.js';
import { openRebootLock } from '../../../src/lock/open-reboot-lock.js';
import type { AgentState } from '../../../src/update/agent-state.js';
import { tick } from '../../../src/update/agent-tick.js';
import { hostEnv } from '../../../src/update/agent-host.js';
import { writeVerdict } from '../../../src/update/health-gate.js';
import { slotFilesIn } from '../../../src/update/slot-devices.js';
import { loadUpdateConfig } from '../../../src/update/update-config.js';
import { openAgentEtcd } from '../../../src/update/update-lock.js';
import { makeKey, publish, tempDir } from '../../unit/update/fixture.js';
import { bootOnce, makeHostTree } from '../update/boot-tree.js';

// Three update agents of one group against a real etcd, in process: each host is a
// directory tree (boot-tree.ts), its slots are files and its reboot only records itself.
// The ticks run back to back, without the daemon's waits; the daemon's one fleet duty,
// stateChanged on each change of state, is done by `drive`. The release 2.0.0 fails its
// health gate on node-1: the rollout halts, the other two do not ask for the slot; resume
// lets them go on, and node-3's pre-reboot check keeps it from asking until it passes;
// node-2's PRE_REBOOT_GROUP_CLEAR keeps it from asking while node-1 reboots. A node that
// finds the group full waits in the lock's queue and is handed the slot at the release.
const keel = join(process.cwd(), 'bin/keel');
const key = makeKey();
const ids = ['node-1', 'node-2', 'node-3'];
let work: string;
let cluster: EtcdCluster;
let store: FleetStore;

interface Node {
  id: string;
  root: string;
  env: Awaited<ReturnType<typeof hostEnv>>;
  state: AgentState;
  reboots: number;
  log: string[];
  fleet: NonNullable<Awaited<ReturnType<typeof openAgentEtcd>>['fleet']>;
}
const nodes = new Map<string, Node>();

async function startAgent(id: string): Promise<Node> {
  const root = join(work, id);
  const config = await loadUpdateConfig(root);
  const log: string[] = [];
  const push = (level: string) => (m: string) => void log.push(`${level}: ${m}`);
  const logger = { error: push('error'), warning: push('warning'), notice: push('notice'), info: push('info'), debug: () => undefined };
  // One etcd client for the lock and the records, as `keel update agent` opens them.
  const etcd = await openAgentEtcd(root, config, logger, { fleet: true });
  const fleet = etcd.fleet;
  if (!fleet) throw new Error(`${id}: no fleet records although lock.conf names etcd`);
  const node: Node = { id, root, state: { kind: 'start' }, reboots: 0, log, env: undefined as never, fleet };
  node.env = hostEnv({
    root,
    config,
    log: logger,
    slotTarget: slotFilesIn(join(root, 'slots')),
    rebooter: async () => void node.reboots++,
    openLock: etcd.openLock,
    onClose: etcd.close,
    fleet,
  });
  nodes.set(id, node);
  return node;
}

/** Ticks until `done` holds; ticks that only wait (same state) are bounded. */
async function drive(node: Node, done: (s: AgentState) => boolean, maxTicks = 20): Promise<AgentState> {
  for (let i = 0; i < maxTicks && !done(node.state); i++) {
    const next = (await tick(node.state, node.env)).state;
    if (next.kind !== node.state.kind) await node.env.stateChanged(next);
    node.state = next;
  }
  if (!done(node.state)) throw new Error(`${node.id}: stuck in ${node.state.kind}; log:\n${node.log.join('\n')}`);
  return node.state;
}

/** A boot of the node's tree, with a health verdict, and a fresh agent on it. */
async function boot(id: string, healthyOn: (version: string) => boolean = () => true): Promise<Node & { version: string }> {
  await nodes.get(id)?.env.closeLock();
  const b = await bootOnce(join(work, id));
  const healthy = healthyOn(b.version);
  const checks = [{ name: 'web', ok: healthy, detail: healthy ? 'active' : `web.service is failed on ${b.version}` }];
  await writeVerdict(join(work, id), { ok: healthy, at: new Date().toISOString(), checks });
  return Object.assign(await startAgent(id), { version: b.version });
}

async function holders(): Promise<string[]> {
  const lock = openRebootLock({ endpoints: cluster.endpoints });
  try {
    return (await lock.status()).holders.map((h) => h.id);
  } finally {
    await lock.close();
  }
}

async function fleetStatus(): Promise<any> {
  const run = await execa(keel, ['fleet', 'status', '--json', '--endpoints', cluster.endpoints.join(',')], { reject: false });
  expect(run.exitCode, run.stderr).toBe(0);
  return JSON.parse(run.stdout);
}

const stateOf = (status: any) => Object.fromEntries(status.nodes.filter((n: any) => !n.lost).map((n: any) => [n.record.machineId, n.record.state]));

beforeAll(async () => {
  work = await tempDir('keel-fleet-agents-');
  cluster = await startEtcd();
  store = new FleetStore({ endpoints: cluster.endpoints });
  for (const v of ['1.0.0', '2.0.0']) await publish(join(work, 'repo'), work, key.signer, v);
  for (const id of ids) {
    const root = join(work, id);
    const preReboot =
      id === 'node-3' ? `PRE_REBOOT_COMMAND=test -e ${join(root, 'ready')} || { echo "drain not finished"; exit 1; }\n` : id === 'node-2' ? 'PRE_REBOOT_GROUP_CLEAR=default\n' : '';
    await makeHostTree(root, '1.0.0', {
      'usr/lib/keel/update-trust.pub': key.publicPem,
      'etc/machine-id': `${id}\n`,
      'etc/keel/update.conf': `REBOOT_STRATEGY=etcd-lock\nSERVER=${join(work, 'repo')}\nPOSTPONE_WHILE_LOGGED_IN=false\nROLLOUT_MAX_FAILURES=1\nHOSTNAME_OVERRIDE=host-${id}\n${preReboot}`,
      'etc/keel/lock.conf': `ENDPOINTS=${cluster.endpoints.join(',')}\n`,
    });
    await mkdir(join(root, 'slots'), { recursive: true });
    await writeFile(join(root, 'slots/slot-a.img'), 'slot a\n');
  }
}, 60_000);

afterAll(async () => {
  for (const n of nodes.values()) await n.env.closeLock().catch(() => undefined);
  await store?.close();
  await cluster?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

test('a failed health gate halts the rollout; the others never take the lock for it; resume lets them go; a failing pre-reboot check keeps a node from asking', async () => {
  // All three stage 2.0.0; node-1 takes the one slot and reboots, the others wait for it.
  for (const id of ids) await drive(await boot(id), (s) => s.kind === 'staged');
  const n1 = nodes.get('node-1')!;
  await drive(n1, () => n1.reboots === 1);
  expect(await holders()).toEqual(['node-1']);
  expect((await store.readRollout('default', '2.0.0'))?.started).toEqual(['node-1']);
  let status = await fleetStatus();
  expect(stateOf(status)).toEqual({ 'node-1': 'rebooting', 'node-2': 'staged', 'node-3': 'staged' });
  expect(status.nodes.find((n: any) => n.record.machineId === 'node-1').record.rebootSlot).toBeDefined();
  // node-2 waits for its group to be clear: while node-1 reboots it does not even ask for the lock.
  const early = nodes.get('node-2')!;
  early.state = (await tick(early.state, early.env)).state;
  expect(early.log.join('\n')).toMatch(/2\.0\.0 staged; not asking for a reboot slot: pre-reboot group default is not clear: node-1 \(host-node-1\) is rebooting; checking again in 60 s/);
  expect(early.log.join('\n')).not.toMatch(/reboot lock not taken/);

  // 2.0.0 fails its health gate on node-1 until its tries run out; then 1.0.0 boots again.
  let badBoots = 0;
  for (;;) {
    const n = await boot('node-1', (v) => v !== '2.0.0');
    if (n.version !== '2.0.0') break;
    expect(++badBoots).toBeLessThanOrEqual(3);
    await drive(n, () => n.reboots === 1);
    if (badBoots === 1) {
      const halted = await store.readRollout('default', '2.0.0');
      expect(halted?.halted).toMatchObject({ by: 'policy', machineId: 'node-1', error: '2.0.0 failed its health gate' });
      expect(stateOf(await fleetStatus())['node-1']).toBe('unhealthy');
    }
  }
  expect(badBoots).toBe(3);
  const back = nodes.get('node-1')!;
  await drive(back, (s) => s.kind === 'steady' && s.lastCheckMs !== undefined);
  expect(await holders()).toEqual([]);
  let rollout = await store.readRollout('default', '2.0.0');
  expect(rollout?.failed.map((f) => f.machineId)).toEqual(['node-1']);

  // Halted: node-2 (its group clear now that node-1 is steady again) sees the halt and does
  // not ask for the free slot; node-3's check fails first.
  await back.fleet.flushed();
  const [n2, n3] = [nodes.get('node-2')!, nodes.get('node-3')!];
  await drive(n2, (s) => s.kind === 'staged' && s.postponements > 0);
  expect(n2.log.join('\n')).toMatch(/not asking for a reboot slot for 2\.0\.0: rollout of 2\.0\.0 is halted .* by policy/);
  expect(n2.log.join('\n')).not.toMatch(/took the reboot lock/);
  await drive(n3, (s) => s.kind === 'staged', 1);
  await tick(n3.state, n3.env);
  expect(n3.log.join('\n')).toMatch(/not asking for a reboot slot: pre-reboot command .* exited 1: drain not finished/);
  expect(await holders()).toEqual([]);
  expect(n2.reboots + n3.reboots).toBe(0);
  expect((await store.readRollout('default', '2.0.0'))?.started).toEqual(['node-1']);
  status = await fleetStatus();
  expect(stateOf(status)).toEqual({ 'node-1': 'steady', 'node-2': 'staged', 'node-3': 'staged' });
  expect(status.nodes.find((n: any) => n.record.machineId === 'node-1').record.lastError.message).toMatch(/2\.0\.0 failed its health gate and ran out of tries/);

  // Resumed: node-2 goes on and succeeds; node-3 still may not ask until its check passes.
  const resume = await execa(keel, ['fleet', 'resume', '2.0.0', '--endpoints', cluster.endpoints.join(',')], { reject: false });
  expect(resume.exitCode, resume.stderr).toBe(0);
  await drive(n2, () => n2.reboots === 1);
  await tick(n3.state, n3.env);
  expect(await holders()).toEqual(['node-2']);
  const up = await boot('node-2');
  expect(up.version).toBe('2.0.0');
  await drive(up, (s) => s.kind === 'steady');
  expect(await holders()).toEqual([]);
  await writeFile(join(n3.root, 'ready'), '');
  await drive(n3, () => n3.reboots === 1);
  expect(await holders()).toEqual(['node-3']);
  rollout = await store.readRollout('default', '2.0.0');
  expect({ started: rollout?.started.sort(), succeeded: rollout?.succeeded, halted: rollout?.halted }).toEqual({ started: ['node-1', 'node-2', 'node-3'], succeeded: ['node-2'], halted: undefined });
  status = await fleetStatus();
  expect(stateOf(status)).toEqual({ 'node-1': 'steady', 'node-2': 'steady', 'node-3': 'rebooting' });
  expect(status.nodes.map((n: any) => [n.record.machineId, n.record.hostname, n.record.version])).toEqual([['node-1', 'host-node-1', '1.0.0'], ['node-2', 'host-node-2', '2.0.0'], ['node-3', 'host-node-3', '1.0.0']]);
  const text = await execa(keel, ['fleet', 'status', '--endpoints', cluster.endpoints.join(',')], { reject: false });
  expect(text.exitCode, text.stderr).toBe(0);
  expect(text.stdout).toMatch(/^node-1 .* 1\.0\.0 \(a\) +steady .*2\.0\.0 failed its health gate and ran out of tries/m);
  expect(text.stdout).toMatch(/^node-3 .* 1\.0\.0 \(a\) +rebooting /m);
  expect(text.stdout).toMatch(/^rollout 2\.0\.0: .*3 started, 1 succeeded, 1 failed/m);
}, 60_000);

test('a node that loses power after taking its slot, before it says it is rebooting, boots its staged release and counts as succeeded', async () => {
  // node-3, rebooting into 2.0.0 at the end of the test before, comes up and gives the slot back.
  const n3 = await boot('node-3');
  expect(n3.version).toBe('2.0.0');
  await drive(n3, (s) => s.kind === 'steady');
  expect(await holders()).toEqual([]);
  await publish(join(work, 'repo'), work, key.signer, '3.0.0');
  const n1 = await boot('node-1');
  expect(n1.version).toBe('1.0.0');
  // Staged, slot taken, started counted; the reboot is never asked for: the power goes.
  await drive(n1, (s) => s.kind === 'rebooting');
  expect(n1.reboots).toBe(0);
  expect(await holders()).toEqual(['node-1']);
  const up = await boot('node-1');
  expect(up.version).toBe('3.0.0');
  await drive(up, (s) => s.kind === 'steady');
  expect(await holders()).toEqual([]);
  const rollout = await store.readRollout('default', '3.0.0');
  expect({ started: rollout?.started, succeeded: rollout?.succeeded, failed: rollout?.failed }).toEqual({ started: ['node-1'], succeeded: ['node-1'], failed: [] });
}, 60_000);

test('a node that finds the group full waits in the lock queue and is handed the slot when the holder releases it, without asking again', async () => {
  const n3 = await boot('node-3');
  await drive(n3, (s) => s.kind === 'staged');
  const ops = openRebootLock({ endpoints: cluster.endpoints });
  try {
    await ops.acquire('ops', { wait: false }); // an operator holds the one slot
    const taking = tick(n3.state, n3.env);
    const queued = async () => (await cluster.etcdctl(['get', '--prefix', '--keys-only', 'com.coreos.airlock/groups/default/v1/keel-queue/'])).trim();
    for (let i = 0; i < 100 && !(await queued()).endsWith('/node-3'); i++) await new Promise((r) => setTimeout(r, 50));
    expect(await queued(), n3.log.join('\n')).toMatch(/\/node-3$/);
    await ops.release('ops');
    n3.state = (await taking).state;
  } finally {
    await ops.close();
  }
  expect(n3.state.kind).toBe('rebooting');
  expect(await holders()).toEqual(['node-3']);
  expect(n3.log.filter((l) => /took the reboot lock/.test(l))).toHaveLength(1);
  expect(n3.log.join('\n')).not.toMatch(/reboot lock not taken/);
  expect((await store.readRollout('default', '3.0.0'))?.started.sort()).toEqual(['node-1', 'node-3']);
}, 60_000);
