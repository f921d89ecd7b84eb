// The lock benchmark (bundled and run by bench/lock.bench.mjs): on a real three-member
// etcd cluster, hand-off latency with 100 waiters; the delay a leader kill adds to an
// operation (keel's tuned client beside etcd3's defaults); and a fleet of simulated agents
// in a few worker processes rolling a reboot through the semaphore, watching (keel) and
// polling (locksmith's way) side by side.
import { fork } from 'node:child_process';
import { Etcd3 } from 'etcd3';
import { startEtcd, type EtcdCluster } from '../../test/harness/etcd.js';
import { EtcdLockStore } from '../../src/lock/etcd-store.js';
import { SemaphoreLock } from '../../src/lock/semaphore-lock.js';
import { KeelError } from '../../src/errors.js';
import { sleep } from '../../src/backoff.js';
import { RequestCounter } from './request-counter.js';

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const agents = env('LOCK_BENCH_AGENTS', 1000);
const workers = env('LOCK_BENCH_WORKERS', 4);
const slots = env('LOCK_BENCH_SLOTS', 10);
const rebootMs = env('LOCK_BENCH_REBOOT_MS', 200);
const pollMs = env('LOCK_BENCH_POLL_MS', 1000);
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

interface WorkerResult {
  finished: number;
  waitMs: number;
  requests: number;
  errors: string[];
}

async function fleet(etcd: EtcdCluster, mode: 'watch' | 'poll'): Promise<void> {
  const group = `fleet-${mode}`;
  const setup = new EtcdLockStore({ endpoints: etcd.endpoints });
  await new SemaphoreLock({ store: setup, group }).setMax(slots);
  const perWorker = Math.ceil(agents / workers);
  const children = Array.from({ length: workers }, (_, w) =>
    fork(process.argv[1]!, ['--worker'], { env: { ...process.env, LOCK_BENCH_ROLE: JSON.stringify({ endpoints: etcd.endpoints, group, mode, first: w * perWorker, count: Math.min(perWorker, agents - w * perWorker) }) } }),
  );
  await Promise.all(children.map((c) => new Promise((r) => c.once('message', r)))); // ready
  let maxHolders = 0;
  let sampling = true;
  const t0 = performance.now();
  const sampler = (async () => {
    while (sampling) {
      const v = await setup.get(`com.coreos.airlock/groups/${group}/v1/semaphore`).catch(() => undefined);
      if (v?.value) maxHolders = Math.max(maxHolders, (JSON.parse(v.value) as { holders: string[] }).holders.length);
      if (process.env.LOCK_BENCH_DEBUG && Math.random() < 0.01) {
        const q = await setup.client.getAll().prefix(`com.coreos.airlock/groups/${group}/v1/keel-waiters/`).count().catch(() => undefined);
        console.error(`[${((performance.now() - t0) / 1000).toFixed(1)} s] holders ${v?.value} queue ${q}`);
      }
      await sleep(20);
    }
  })();
  const results = await Promise.all(
    children.map(
      (c) =>
        new Promise<WorkerResult>((resolve, reject) => {
          c.once('message', (m) => resolve(m as WorkerResult));
          c.once('exit', (code) => code !== 0 && reject(new Error(`worker exited ${code}`)));
          c.send('go');
        }),
    ),
  );
  const totalS = (performance.now() - t0) / 1000;
  sampling = false;
  await sampler;
  await setup.close();
  const finished = results.reduce((n, r) => n + r.finished, 0);
  const waitS = results.reduce((n, r) => n + r.waitMs, 0) / 1000;
  const requests = results.reduce((n, r) => n + r.requests, 0);
  const ideal = (agents / slots) * (rebootMs / 1000);
  const errors = results.flatMap((r) => r.errors);
  const name = mode === 'watch' ? 'keel (watch + queue)' : `polling every ${pollMs} ms ± 50% (locksmith's way, scaled)`;
  console.log(
    `fleet roll, ${name}: ${finished}/${agents} agents in ${workers} processes, ${slots} slots, ${rebootMs} ms reboots: ${totalS.toFixed(1)} s (ideal ${ideal.toFixed(1)} s, ${(totalS / ideal).toFixed(2)}×); ` +
      `${(requests / waitS).toFixed(3)} etcd requests per waiting agent per second (${requests} requests over ${waitS.toFixed(0)} agent-seconds of waiting); max holders seen ${maxHolders}${errors.length ? `; ERRORS: ${errors.slice(0, 3).join('; ')}` : ''}`,
  );
  if (finished !== agents || maxHolders > slots) process.exitCode = 1;
}

async function worker(): Promise<void> {
  const role = JSON.parse(process.env.LOCK_BENCH_ROLE!) as { endpoints: string[]; group: string; mode: 'watch' | 'poll'; first: number; count: number };
  const counter = new RequestCounter();
  const stores = Array.from({ length: 5 }, () => new EtcdLockStore({ endpoints: role.endpoints }, counter));
  await Promise.all(stores.map((s) => s.get('warm-up')));
  const before = counter.total();
  process.send!('ready');
  await new Promise((r) => process.once('message', r));
  const result: WorkerResult = { finished: 0, waitMs: 0, requests: 0, errors: [] };
  await Promise.all(
    Array.from({ length: role.count }, async (_, i) => {
      const id = `agent-${String(role.first + i).padStart(5, '0')}`;
      const lock = new SemaphoreLock({ store: stores[i % stores.length]!, group: role.group, safetyWakeMs: 30_000 });
      try {
        const t0 = performance.now();
        if (role.mode === 'watch') await lock.acquire(id);
        else {
          for (;;) {
            try {
              await lock.acquire(id, { wait: false });
              break;
            } catch (error) {
              if (!(error instanceof KeelError && error.kind === 'conflict')) throw error;
              await sleep(pollMs * (0.5 + Math.random()));
            }
          }
        }
        result.waitMs += performance.now() - t0;
        await sleep(rebootMs);
        await lock.release(id);
        result.finished++;
      } catch (error) {
        result.errors.push(`${id}: ${(error as Error).message}`);
      }
    }),
  );
  result.requests = counter.total() - before;
  await Promise.all(stores.map((s) => s.close()));
  process.send!(result, () => process.exit(0));
}

async function main(): Promise<void> {
  const etcd = await startEtcd({ members: 3 });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void etcd.stop().finally(() => process.exit(130)));
  try {
    if (!process.env.LOCK_BENCH_ONLY_FLEET) {
      await handOff(etcd);
      await leaderKill(etcd);
    }
    await fleet(etcd, 'watch');
    await fleet(etcd, 'poll');
  } finally {
    await etcd.stop();
  }
}

if (process.argv.includes('--worker')) await worker();
else await main();
