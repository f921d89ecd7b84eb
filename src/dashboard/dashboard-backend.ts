/**
 * What the dashboard needs of etcd, as a small interface (a recording fake serves the unit
 * tests): read a group at one revision, watch it with connection events, halt and resume a
 * rollout, release a holder's reboot slot, and append an audit record. The real one reads
 * records through FleetStore and releases slots through the lock's own code; `keel lock
 * serve --dashboard` passes the lock server's store, so the slots it releases are its own.
 */
import type { Etcd3 } from 'etcd3';
import { etcdError, type EtcdConnection } from '../lock/etcd-store.js';
import type { LockStore } from '../lock/lock-store.js';
import { SemaphoreLock } from '../lock/semaphore-lock.js';
import type { Logger } from '../log.js';
import { FleetStore, type FleetRead, type RolloutChange } from '../fleet/fleet-store.js';
import { watchGroup } from '../fleet/group-watch.js';
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
