// The lock benchmark (bundled and run by bench/lock.bench.mjs): on a real three-member
// etcd cluster, hand-off latency with 100 waiters, and the delay a leader kill adds to an
// operation (keel's tuned client beside etcd3's defaults). Fleet rolls with thousands of
// agents are bench/fleet.bench.mjs.
import { Etcd3 } from 'etcd3';
import { startEtcd, type EtcdCluster } from '../../test/harness/etcd.js';
import { EtcdLockStore } from '../../src/lock/etcd-store.js';
import { SemaphoreLock } from '../../src/lock/semaphore-lock.js';
import { sleep } from '../../src/backoff.js';

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const waiters = env('LOCK_BENCH_WAITERS', 100);

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
};

async function handOff(etcd: EtcdCluster): Promise<void> {
  const stores = Array.from({ length: 10 }, () => new EtcdLockStore({ endpoints: etcd.endpoints }));
  const group = 'handoff';
  await new SemaphoreLock({ store: stores[0]!, group }).setMax(1);
  const locks = Array.from({ length: waiters + 1 }, (_, i) => ({ id: `w${String(i).padStart(3, '0')}`, lock: new SemaphoreLock({ store: stores[i % stores.length]!, group }) }));
  await locks[0]!.lock.acquire(locks[0]!.id);
  const got: { id: string; at: number }[] = [];
  const pending = locks.slice(1).map(({ id, lock }) => lock.acquire(id).then(() => got.push({ id, at: performance.now() })));
  await sleep(1500); // let every waiter queue up
  const latencies: number[] = [];
  let holder = locks[0]!;
  for (let i = 0; i < waiters; i++) {
    const before = got.length;
    const t0 = performance.now();
    await holder.lock.release(holder.id);
    while (got.length === before) await sleep(0.2);
    const next = got[before]!;
    latencies.push(next.at - t0);
    holder = locks.find((l) => l.id === next.id)!;
  }
  await Promise.all(pending);
  await holder.lock.release(holder.id);
  await Promise.all(stores.map((s) => s.close()));
  console.log(`hand-off (release → next waiter holding), ${waiters} waiters, 3 members: median ${quantile(latencies, 0.5).toFixed(1)} ms, p99 ${quantile(latencies, 0.99).toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms`);
}

async function leaderKill(etcd: EtcdCluster): Promise<void> {
  const measure = async (label: string, op: () => Promise<unknown>) => {
    const delays: number[] = [];
    for (let k = 0; k < 3; k++) {
      let worst = 0;
      let running = true;
      const loop = (async () => {
        while (running) {
          const t0 = performance.now();
          await op().catch(() => undefined);
          worst = Math.max(worst, performance.now() - t0);
        }
      })();
      await sleep(200);
      worst = 0;
      const leader = await etcd.leader();
      await etcd.kill(leader);
      await sleep(label.startsWith('etcd3') ? 9000 : 3000);
      running = false;
      await loop;
      delays.push(worst);
      await etcd.restart(leader);
    }
    console.log(`leader killed, slowest single operation (3 kills), ${label}: ${delays.map((d) => `${d.toFixed(0)} ms`).join(', ')}`);
  };
  const store = new EtcdLockStore({ endpoints: etcd.endpoints });
  const lock = new SemaphoreLock({ store, group: 'kill' });
  await measure("keel's client (deadline 700 ms, breaker 300 ms, retry)", async () => {
    await lock.acquire('k');
    await lock.release('k');
  });
  await store.close();
  const plain = new Etcd3({ hosts: etcd.endpoints });
  await measure('etcd3 with default options (peer)', () => plain.put('kill-plain').value('x').exec());
  plain.close();
}

async function main(): Promise<void> {
  const etcd = await startEtcd({ members: 3 });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void etcd.stop().finally(() => process.exit(130)));
  try {
    await handOff(etcd);
    await leaderKill(etcd);
  } finally {
    await etcd.stop();
  }
}

await main();
