// Faults on a real three-member cluster in network namespaces: during contention the
// leader is SIGKILLed 5 times (and restarted), then one member is cut off by taking its
// link down and later healed. No over-grant, no lost release, every contender finishes.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startEtcd, type EtcdCluster } from '../../harness/etcd.js';
import { runContention } from './contention.js';

let etcd: EtcdCluster;
beforeAll(async () => {
  etcd = await startEtcd({ members: 3, netns: true });
});
afterAll(async () => {
  await etcd?.stop();
});

test('leader killed 5 times and one member partitioned during contention', async () => {
  const faults: string[] = [];
  let contentionDone = false;
  let runningThroughFaults = true;
  const injecting = (async () => {
    await new Promise((r) => setTimeout(r, 300));
    for (let i = 0; i < 5; i++) {
      runningThroughFaults &&= !contentionDone;
      const leader = await etcd.leader();
      await etcd.kill(leader);
      faults.push(`killed leader ${leader.name}`);
      await new Promise((r) => setTimeout(r, 400));
      await etcd.restart(leader);
      await new Promise((r) => setTimeout(r, 300));
    }
    const victim = await etcd.leader();
    await etcd.partition(victim);
    faults.push(`partitioned ${victim.name} (the leader)`);
    await new Promise((r) => setTimeout(r, 2500));
    await etcd.heal(victim);
    faults.push(`healed ${victim.name}`);
    runningThroughFaults &&= !contentionDone;
  })();
  const contention = runContention({ endpoints: etcd.endpoints, group: 'faults', contenders: 50, slots: 3, holdMs: 40, clients: 10, rounds: 4 }).finally(() => {
    contentionDone = true;
  });
  const [r] = await Promise.all([contention, injecting]);
  console.log(`faults: ${faults.join('; ')}; contention running through every fault: ${runningThroughFaults}`);
  console.log(`faults: ${r.finished}/50 finished 4 rounds, max holders ${r.maxHoldersSampled} sampled over ${r.samples} reads, ${r.maxHoldingInProcess} in process, slowest wait ${r.slowestCycleMs.toFixed(0)} ms`);
  expect(faults.filter((f) => f.startsWith('killed'))).toHaveLength(5);
  expect(runningThroughFaults).toBe(true);
  expect(r.errors).toEqual([]);
  expect(r.finished).toBe(50);
  expect(r.maxHoldingInProcess).toBeLessThanOrEqual(3);
  expect(r.maxHoldersSampled).toBeLessThanOrEqual(3);
  expect(r.finalHolders).toEqual([]);
});
