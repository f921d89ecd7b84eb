/**
 * What the dashboard needs of etcd, as a small interface (a recording fake serves the unit
 * tests): read a group at one revision, watch it with connection events, halt and resume a
 * rollout, release a holder's reboot slot, and append an audit record. The real one reads
 * records through FleetStore and releases slots through the lock's own code; `keel lock
 * serve --dashboard` passes the lock server's store, so the slots it releases are its own.
 */
import type { Etcd3, Watcher } from 'etcd3';
import { etcdError, type EtcdConnection } from '../lock/etcd-store.js';
import { holdersPrefix, semaphoreKey } from '../lock/group-keys.js';
import type { LockStore } from '../lock/lock-store.js';
import { SemaphoreLock } from '../lock/semaphore-lock.js';
import type { Logger } from '../log.js';
import { fleetPrefix } from '../fleet/fleet-keys.js';
import { FleetStore, type FleetRead, type RolloutChange } from '../fleet/fleet-store.js';
import { auditKey, formatAuditRecord, type AuditRecord } from './audit-record.js';

export interface WatchHandlers {
  /** A change to the group's records or lock at `revision`. */
  change(revision: number): void;
  /** The watch stream lost etcd (with why) or reached it again. */
  connection(connected: boolean, error?: string): void;
}

export interface DashboardBackend {
  read(group: string): Promise<FleetRead>;
  watch(group: string, revision: number, handlers: WatchHandlers): Promise<{ close(): Promise<void> }>;
  halt(group: string, version: string, reason: string): Promise<RolloutChange>;
  resume(group: string, version: string): Promise<RolloutChange>;
  /** Gives back `holder`'s slot; false when it held none. */
  release(group: string, holder: string): Promise<boolean>;
  audit(group: string, record: AuditRecord): Promise<void>;
  close(): Promise<void>;
}

export interface EtcdBackendOptions {
  /** How long one read or action may keep retrying etcd. Default 10 s. */
  operationTimeoutMs?: number;
  log?: Logger;
  random?: () => number;
}

/** The real backend over one etcd connection (or a client the caller already has). */
export function etcdBackend(connection: EtcdConnection | { client: Etcd3 }, locks: LockStore, options: EtcdBackendOptions = {}): DashboardBackend {
  const timeoutMs = options.operationTimeoutMs ?? 10_000;
  const store = new FleetStore(connection, { operationTimeoutMs: timeoutMs, ...(options.log ? { log: options.log } : {}) });
  const client = store.client;
  const random = options.random ?? Math.random;
  return {
    read: (group) => store.read(group),
    halt: (group, version, reason) => store.halt(group, version, reason),
    resume: (group, version) => store.resume(group, version),
    async release(group, holder) {
      const lock = new SemaphoreLock({ store: locks, group, operationTimeoutMs: timeoutMs, ...(options.log ? { log: options.log } : {}) });
      const before = await lock.status({ signal: AbortSignal.timeout(timeoutMs) });
      if (!before.holders.some((h) => h.id === holder)) return false;
      await lock.release(holder, { signal: AbortSignal.timeout(timeoutMs) });
      return true;
    },
    async audit(group, record) {
      try {
        await client.put(auditKey(group, record.at, random)).value(formatAuditRecord(record));
      } catch (error) {
        throw etcdError(error, `writing the audit record of ${record.action} ${record.target}`);
      }
    },
    watch: (group, revision, handlers) => watchGroup(client, group, revision, handlers),
    close: () => store.close(),
  };
}

/**
 * FleetStore.watch's three watches (the group's records, the semaphore, the holder times),
 * with etcd3's connection events passed on: a lost stream is the banner, a regained one a
 * fresh read (etcd3 resumes each watch from the last revision it saw).
 */
async function watchGroup(client: Etcd3, group: string, revision: number, handlers: WatchHandlers): Promise<{ close(): Promise<void> }> {
  const start = String(revision + 1);
  const watchers: Watcher[] = [];
  let lost = false;
  try {
    for (const make of [() => client.watch().prefix(fleetPrefix(group)), () => client.watch().key(semaphoreKey(group)), () => client.watch().prefix(holdersPrefix(group))]) {
      const w = await make().startRevision(start).create();
      w.on('data', (res: { header: { revision: string } }) => handlers.change(Number(res.header.revision)));
      w.on('disconnected', (error: Error) => {
        if (!lost) handlers.connection(false, error.message.split('\n')[0]);
        lost = true;
      });
      w.on('connected', () => {
        if (lost) handlers.connection(true);
        lost = false;
      });
      w.on('error', () => undefined);
      watchers.push(w);
    }
  } catch (error) {
    await Promise.all(watchers.map((w) => w.cancel().catch(() => undefined)));
    throw etcdError(error, `watching ${fleetPrefix(group)}`);
  }
  return { close: async () => void (await Promise.all(watchers.map((w) => w.cancel().catch(() => undefined)))) };
}
