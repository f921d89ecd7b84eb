// Shared by the contention and fault tests: N contenders on a few clients take a slot,
// hold it briefly, give it back; an in-process count and a sampler reading the key through
// its own client both check that holders never exceed the slots.
import { EtcdLockStore } from '../../../src/lock/etcd-store.js';
import { SemaphoreLock } from '../../../src/lock/semaphore-lock.js';
import { parseSemaphore } from '../../../src/lock/semaphore.js';
import { semaphoreKey } from '../../../src/lock/group-keys.js';

export interface ContentionResult {
  finished: number;
  maxHoldingInProcess: number;
  maxHoldersSampled: number;
  samples: number;
  /** Slowest single acquire-to-release cycle minus its hold, in ms (waiting included). */
  slowestCycleMs: number;
  finalHolders: string[];
  errors: string[];
}

export async function runContention(opts: { endpoints: string[]; group: string; contenders: number; slots: number; holdMs: number; clients: number; rounds?: number }): Promise<ContentionResult> {
  const stores = Array.from({ length: opts.clients }, () => new EtcdLockStore({ endpoints: opts.endpoints }));
  const sampler = new EtcdLockStore({ endpoints: opts.endpoints });
  const setup = new SemaphoreLock({ store: stores[0]!, group: opts.group });
  await setup.setMax(opts.slots);
  let holding = 0;
  let maxHolding = 0;
  let maxSampled = 0;
  let samples = 0;
  let slowest = 0;
  let running = true;
  const errors: string[] = [];
  const sampling = (async () => {
    while (running) {
      try {
        const v = await sampler.get(semaphoreKey(opts.group));
        if (v.value) maxSampled = Math.max(maxSampled, parseSemaphore(v.value).holders.length);
        samples++;
      } catch {
        // the sampler's own reads fail during faults too; the in-process count still holds
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  let finished = 0;
  await Promise.all(
    Array.from({ length: opts.contenders }, async (_, i) => {
      const lock = new SemaphoreLock({ store: stores[i % stores.length]!, group: opts.group, safetyWakeMs: 2000 });
      const id = `node-${String(i).padStart(3, '0')}`;
      for (let round = 0; round < (opts.rounds ?? 1); round++) {
        try {
          const t0 = performance.now();
          await lock.acquire(id, { signal: AbortSignal.timeout(240_000) });
          holding++;
          maxHolding = Math.max(maxHolding, holding);
          await new Promise((r) => setTimeout(r, opts.holdMs));
          holding--;
          await lock.release(id);
          slowest = Math.max(slowest, performance.now() - t0 - opts.holdMs);
        } catch (error) {
          errors.push(`${id}: ${(error as Error).message}`);
          return;
        }
      }
      finished++;
    }),
  );
  running = false;
  await sampling;
  const final = await setup.status();
  await Promise.all([...stores, sampler].map((s) => s.close()));
  return { finished, maxHoldingInProcess: maxHolding, maxHoldersSampled: maxSampled, samples, slowestCycleMs: slowest, finalHolders: final.holders.map((h) => h.id), errors };
}
