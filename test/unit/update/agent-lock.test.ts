// The agent's hold on the reboot lock, over the real semaphore lock and the unit tests'
// in-memory store (the same lock runs against etcd in test/integration/fleet/agents.test.ts).
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, test } from 'vitest';
import { MemoryLockStore } from '../lock/memory-lock-store.js';
import { SemaphoreLock } from '../../../src/lock/semaphore-lock.js';
import { AgentLock } from '../../../src/update/agent-lock.js';
import { KeelError } from '../../../src/errors.js';
import type { RebootLock } from '../../../src/lock/reboot-lock.js';

const quiet = { error() {}, warning() {}, notice() {}, info() {}, debug() {} } as never;
const queue = 'com.coreos.airlock/groups/default/v1/keel-queue/';
setFlagsFromString('--expose_gc');
const collect = runInNewContext('gc') as () => void;

function group() {
  const store = new MemoryLockStore();
  const lock = new SemaphoreLock({ store, group: 'default', random: () => 0 });
  const agent = (opened: RebootLock = lock) => new AgentLock(async () => opened, quiet);
  return { store, lock, agent };
}

describe('agent lock', () => {
  test('a required lock that is full is waited for in its queue: the release hands the slot over', async () => {
    const { lock, agent } = group();
    await lock.acquire('a');
    const b = agent();
    const taking = b.take('required', 'b', { ms: 60_000 });
    await new Promise((r) => setTimeout(r, 20));
    await lock.release('a');
    expect(await taking).toBe('taken');
    expect((await lock.status()).holders.map((h) => h.id)).toEqual(['b']);
  });

  test("the release says whether the lock wrote the riders; one that fails is false unless the slot must go back", async () => {
    const { store, lock, agent } = group();
    await lock.acquire('a');
    expect(await agent().release('a', true, [{ absent: [], puts: { 'succeeded/a': 'now' } }])).toBe(true);
    expect([...(await store.readKeys(['succeeded/a'])).keys()]).toEqual(['succeeded/a']);
    expect(await agent().release('a', true)).toBe(false);
    const away = { ...lock, release: () => Promise.reject(new KeelError('unavailable', 'etcd did not answer')) } as unknown as RebootLock;
    expect(await agent(away).release('a', false, [{ absent: [], puts: { x: '1' } }])).toBe(false);
    await expect(agent(away).release('a', true)).rejects.toThrow('etcd did not answer');
  });

  test('a wait that ends is busy, not a lock away; asking again keeps the place in line', async () => {
    const { store, lock, agent } = group();
    await lock.acquire('a');
    const b = agent();
    expect(await b.take('required', 'b', { ms: 30 })).toBe('busy');
    expect(store.queueOf(queue)).toEqual([]);
    // c queues while b is between two asks; b asks again and is still ahead of c.
    const c = lock.acquire('c');
    await new Promise((r) => setTimeout(r, 20));
    const again = b.take('required', 'b', { ms: 60_000 });
    await new Promise((r) => setTimeout(r, 20));
    expect(store.queueOf(queue).map((k) => k.split('/').at(-1))).toEqual(['b', 'c']);
    await lock.release('a');
    expect(await again).toBe('taken');
    await lock.release('b');
    await c;
    expect((await lock.status()).holders.map((h) => h.id)).toEqual(['c']);
  });

  test('the wait ends at its time though the collector runs during it', async () => {
    // An AbortSignal.timeout held only by AbortSignal.any was collected before it fired
    // (nodejs/node#57736): the wait went on for as long as the slot stayed taken.
    const { lock, agent } = group();
    await lock.acquire('a');
    const taking = agent().take('required', 'b', { ms: 30 });
    collect();
    await new Promise((r) => setTimeout(r, 5));
    collect();
    expect(await taking).toBe('busy');
  });

  test("the agent stopping ends the wait at once", async () => {
    const { lock, agent } = group();
    await lock.acquire('a');
    const stop = new AbortController();
    const taking = agent().take('required', 'b', { ms: 60_000, signal: stop.signal });
    await new Promise((r) => setTimeout(r, 20));
    stop.abort();
    expect(await taking).toBe('busy');
  });

  test('best-effort never waits: a full group is busy at once, a lock that does not answer lets the reboot go ahead', async () => {
    const { lock, agent } = group();
    await lock.acquire('a');
    expect(await agent().take('try', 'b', { ms: 60_000 })).toBe('busy');
    const away = { acquire: async () => Promise.reject(new KeelError('unavailable', 'etcd did not answer')) } as unknown as RebootLock;
    expect(await agent(away).take('try', 'b', { ms: 60_000 })).toBe('without');
  });
});
