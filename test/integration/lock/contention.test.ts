// Contention on a real three-member cluster: 60 contenders, 3 slots. A sampler reading the
// key and an in-process count prove the holders never exceed 3; everyone gets through and
// nothing is left held.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startEtcd, type EtcdCluster } from '../../harness/etcd.js';
import { runContention } from './contention.js';

let etcd: EtcdCluster;
beforeAll(async () => {
  etcd = await startEtcd({ members: 3 });
});
afterAll(async () => {
  await etcd?.stop();
});

test('60 contenders, 3 slots, three members: never more than 3 holders, all finish', async () => {
  const r = await runContention({ endpoints: etcd.endpoints, group: 'contention', contenders: 60, slots: 3, holdMs: 20, clients: 10, rounds: 2 });
  console.log(`contention: ${r.finished}/60 finished twice, max holders ${r.maxHoldersSampled} sampled over ${r.samples} reads, ${r.maxHoldingInProcess} in process`);
  expect(r.errors).toEqual([]);
  expect(r.finished).toBe(60);
  expect(r.maxHoldingInProcess).toBeLessThanOrEqual(3);
  expect(r.maxHoldersSampled).toBeLessThanOrEqual(3);
  expect(r.maxHoldersSampled).toBe(3); // the slots were actually used in parallel
  expect(r.samples).toBeGreaterThan(10);
  expect(r.finalHolders).toEqual([]);
});
