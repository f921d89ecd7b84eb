// What the dashboard integration tests share: a real etcd member, three simulated agents
// (their node records published through FleetStore, a reboot slot taken through the real
// semaphore lock), a rollout under way, and `./bin/keel fleet serve` (or `lock serve
// --dashboard`) as a child process with an operator token file.
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEtcd, type EtcdCluster } from '../../harness/etcd.js';
import { startServe, type ServeProcess } from '../../harness/serve-process.js';
import { FleetStore } from '../../../src/fleet/fleet-store.js';
import { nodeRecord, type NodeRecord } from '../../../src/fleet/node-record.js';
import { EtcdLockStore } from '../../../src/lock/etcd-store.js';
import { SemaphoreLock } from '../../../src/lock/semaphore-lock.js';

export const aliceToken = 'alice-operator-token-0001';
export const bobToken = 'bob-node-token-00000000001';
export const group = 'web';

export interface Fleet {
  etcd: EtcdCluster;
  store: FleetStore;
  lock: SemaphoreLock;
  lockStore: EtcdLockStore;
  dir: string;
  tokensFile: string;
  publish(id: string, over?: Partial<NodeRecord>): Promise<void>;
  close(): Promise<void>;
}

const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000).toISOString();

/** etcd with three nodes during a rollout of 2.0.0: n1 on it and healthy, n2 rebooting into it holding the slot, n3 staged. */
export async function startFleet(): Promise<Fleet> {
  const keel = join(process.cwd(), 'bin/keel');
  if (!existsSync(keel)) throw new Error('bin/keel missing: run node scripts/build.mjs');
  const etcd = await startEtcd();
  const store = new FleetStore({ endpoints: etcd.endpoints });
  const lockStore = new EtcdLockStore({ endpoints: etcd.endpoints });
  const lock = new SemaphoreLock({ store: lockStore, group, defaultSlots: 1 });
  const dir = mkdtempSync(join(tmpdir(), 'keel-dashboard-'));
  const tokensFile = join(dir, 'tokens');
  writeFileSync(tokensFile, `alice ${aliceToken}\nbob ${bobToken}\n`);
  chmodSync(tokensFile, 0o600);
  const publish = (id: string, over: Partial<NodeRecord> = {}) =>
    store.publishNode(group, nodeRecord({ machineId: id, hostname: `web-${id}`, version: '1.0.0', slot: 'a', state: 'steady', stateSince: minutesAgo(90), updatedAt: new Date().toISOString(), lastCheck: minutesAgo(2), ...over }));
  await publish('n1', { version: '2.0.0', slot: 'b', stateSince: minutesAgo(20), health: { verdict: 'passed', at: minutesAgo(19) } });
  await lock.acquire('n2', { wait: false });
  await publish('n2', { state: 'rebooting', staged: '2.0.0', stateSince: minutesAgo(3), rebootSlot: { since: minutesAgo(3) } });
  await publish('n3', { state: 'staged', staged: '2.0.0', stateSince: minutesAgo(10) });
  await store.recordStarted(group, '2.0.0', 'n1');
  await store.recordSucceeded(group, '2.0.0', 'n1');
  await store.recordStarted(group, '2.0.0', 'n2');
  return {
    etcd,
    store,
    lock,
    lockStore,
    dir,
    tokensFile,
    publish,
    async close() {
      await store.close({ revoke: true }).catch(() => undefined);
      await lockStore.close().catch(() => undefined);
      await etcd.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** `keel fleet serve` on a free loopback port for `fleet`, alice an operator, bob not. */
export function startFleetServe(fleet: Fleet, extra: string[] = []): Promise<ServeProcess> {
  return startServe(['fleet', 'serve', '--endpoints', fleet.etcd.endpoints.join(','), '--group', group, '--listen', '127.0.0.1:0', '--tokens', fleet.tokensFile, '--operators', 'alice', ...extra]);
}

/** Reads server-sent `view` events from `url` until `ok` holds for one; resolves with it and the time it arrived. */
export async function nextEvent<T>(url: string, ok: (view: T) => boolean, signal: AbortSignal): Promise<{ view: T; at: number }> {
  const res = await fetch(`${url}/api/v1/events`, { signal });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error('the event stream ended');
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const message = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = /^data: (.*)$/m.exec(message)?.[1];
      if (data === undefined) continue;
      const view = JSON.parse(data) as T;
      if (ok(view)) {
        await reader.cancel().catch(() => undefined);
        return { view, at: performance.now() };
      }
    }
  }
}

export { startServe, type ServeProcess };
