/**
 * The cluster e2e's view of its hosts from outside: one etcd client per member (each guest's
 * client port forwarded to 127.0.0.1, TLS with the test CA and a member's client pair), the
 * reboot semaphore's every stored version read back from etcd's history, and a poller that,
 * every few seconds during a roll, notes which guests are down (their qemu restarted and not
 * ready again), writes a key through every member that is up, and lists `web`'s endpoints and
 * the lock's holders. keel's own code reads etcd here: the fleet store, the semaphore parser
 * and container discovery's listing.
 */
import type { Etcd3 } from 'etcd3';
import type { Vm } from '../harness/qemu.js';
import { FleetStore } from '../../src/fleet/fleet-store.js';
import { semaphoreKey } from '../../src/lock/group-keys.js';
import { parseSemaphore } from '../../src/lock/semaphore.js';
import { listEndpoints } from '../../src/containers/discovery.js';

export const lockGroup = 'default';
const readyLine = /keel-boot: ready slot=/;

/** A guest of the cluster as the test knows it. */
export interface ClusterHost {
  index: number;
  name: string;
  vm: Vm;
  machineId: string;
  /** Its member, through the forwarded client port. */
  store: FleetStore;
}

/** A fleet store (and its etcd client) on one member only, reached at 127.0.0.1:`port`. */
export function memberStore(port: number, tls: { cafile: string; certfile: string; keyfile: string }): FleetStore {
  // Emulated guests behind user-mode networking answer slower than loopback etcd: 5 s, not 700 ms.
  return new FleetStore({ endpoints: [`https://127.0.0.1:${port}`], ...tls, callTimeoutMs: 5000 });
}

/** Rejects after `ms` with `what` in the message. */
export function within<T>(what: string, p: Promise<T>, ms = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}

/** etcd's current revision, as the member answers a read. */
export async function currentRevision(client: Etcd3): Promise<number> {
  const res = await within('revision', client.kv.range({ key: Buffer.from('/keel-e2e/revision-probe') }));
  return Number(res.header.revision);
}

export interface SemaphoreVersion {
  revision: number;
  totalSlots: number;
  holders: string[];
}

/** Every stored version of the group's semaphore modified after `sinceRevision`, oldest first (nothing is compacted: etcd keeps all). */
export async function semaphoreHistory(client: Etcd3, sinceRevision = 0): Promise<SemaphoreVersion[]> {
  const key = Buffer.from(semaphoreKey(lockGroup));
  const out: SemaphoreVersion[] = [];
  let res = await within('semaphore', client.kv.range({ key }));
  while (res.kvs[0] && Number(res.kvs[0].mod_revision) > sinceRevision) {
    const kv = res.kvs[0];
    const s = parseSemaphore(kv.value.toString('utf8'));
    out.push({ revision: Number(kv.mod_revision), totalSlots: s.totalSlots, holders: s.holders });
    if (Number(kv.version) <= 1) break;
    res = await within('semaphore history', client.kv.range({ key, revision: Number(kv.mod_revision) - 1 }));
  }
  return out.reverse();
}

/** The semaphore's holders now. */
export async function lockHolders(client: Etcd3): Promise<string[]> {
  const res = await within('semaphore', client.kv.range({ key: Buffer.from(semaphoreKey(lockGroup)) }));
  return res.kvs[0] ? parseSemaphore(res.kvs[0].value.toString('utf8')).holders : [];
}

/** `read` through the first member that answers (a host may be rebooting). */
export async function viaAnyMember<T>(hosts: ClusterHost[], read: (client: Etcd3) => Promise<T>): Promise<T> {
  const errors: string[] = [];
  for (const h of hosts) {
    try {
      return await read(h.store.client);
    } catch (error) {
      errors.push(`${h.name}: ${(error as Error).message}`);
    }
  }
  throw new Error(`no member answered: ${errors.join('; ')}`);
}

/** One look at the cluster. `writes[i]`: host i's member took a write (undefined: the host was down). */
export interface Tick {
  atMs: number;
  down: boolean[];
  writes: (boolean | undefined)[];
  /** Machine ids announcing `web`, read through a member that is up (undefined when none answered). */
  endpoints?: string[];
  holders?: string[];
}

/** Watches the guests' console and etcd every `periodMs` until stopped. */
export class RollObserver {
  readonly ticks: Tick[] = [];
  private readonly seen: { pid: number | undefined; up: boolean; fromLine: number }[];
  private stopped = false;
  private loop: Promise<void> | undefined;
  private n = 0;

  constructor(private readonly hosts: ClusterHost[], private readonly log: (line: string) => void, private readonly periodMs = 3000) {
    this.seen = hosts.map((h) => ({ pid: h.vm.pid, up: true, fromLine: 0 }));
  }

  start(): void {
    this.loop = (async () => {
      while (!this.stopped) {
        await this.tick().catch((error: Error) => this.log(`observer: ${error.message}`));
        await new Promise((r) => setTimeout(r, this.periodMs));
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  /** Down: qemu ended, or a new qemu run has not printed the ready marker yet (a guest reboot is a new run here). */
  private down(i: number): boolean {
    const vm = this.hosts[i]!.vm;
    const s = this.seen[i]!;
    const pid = vm.running ? vm.pid : undefined;
    if (s.up && pid !== s.pid) Object.assign(s, { up: false, fromLine: vm.serial.lines.length });
    s.pid = pid;
    if (!s.up && pid !== undefined && vm.serial.lines.slice(s.fromLine).some((l) => readyLine.test(l.text))) s.up = true;
    return !s.up;
  }

  private async tick(): Promise<void> {
    const n = ++this.n;
    const down = this.hosts.map((_, i) => this.down(i));
    const writes = await Promise.all(
      this.hosts.map((h, i) => (down[i] ? undefined : within(`write via ${h.name}`, h.store.client.put(`/keel-e2e/roll/${n}/${h.name}`).value(String(Date.now())).exec()).then(() => true, () => false))),
    );
    const tick: Tick = { atMs: Date.now(), down, writes };
    for (const [i, h] of this.hosts.entries()) {
      if (down[i]) continue;
      try {
        const client = h.store.client;
        tick.endpoints = (await within('endpoints', listEndpoints(client, 'web'))).map((e) => e.machineId);
        tick.holders = await lockHolders(client);
        break;
      } catch {
        // the next member that is up answers instead
      }
    }
    const previous = this.ticks.at(-1);
    this.ticks.push(tick);
    const summary = (t: Tick) => JSON.stringify([t.down, t.writes, t.endpoints?.map((id) => this.nameOf(id)), t.holders?.map((id) => this.nameOf(id))]);
    if (!previous || summary(previous) !== summary(tick)) this.log(`observer #${n}: down ${this.names(down)} writes ${tick.writes.map((w) => (w === undefined ? '-' : w ? 'ok' : 'FAIL')).join(',')} endpoints [${tick.endpoints?.map((id) => this.nameOf(id)).join(',') ?? '?'}] holders [${tick.holders?.map((id) => this.nameOf(id)).join(',') ?? '?'}]`);
  }

  nameOf(machineId: string): string {
    return this.hosts.find((h) => h.machineId === machineId)?.name ?? machineId;
  }

  private names(flags: boolean[]): string {
    return `[${this.hosts.filter((_, i) => flags[i]).map((h) => h.name).join(',')}]`;
  }
}
