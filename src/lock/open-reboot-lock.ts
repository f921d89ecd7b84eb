/**
 * The factory the update agent and `keel lock` use: LockSettings (from lock.conf and
 * flags) to a RebootLock — the FleetLock client when a FleetLock URL is set, otherwise the
 * etcd semaphore.
 */
import { readFileSync } from 'node:fs';
import { KeelError } from '../errors.js';
import type { LockSettings } from './lock-settings.js';
import type { Logger } from '../log.js';
import { readDurationMs } from '../duration.js';
import { EtcdLockStore, type EtcdStoreExtras } from './etcd-store.js';
import { FleetLockClient } from './fleetlock-client.js';
import type { ClientTls } from './http-call.js';
import { defaultGroup } from './group-keys.js';
import type { RebootLock } from './reboot-lock.js';
import { SemaphoreLock } from './semaphore-lock.js';

export interface OpenOptions {
  log?: Logger;
  /** Slots of a semaphore this node creates; default 1 (as locksmith and airlock). */
  defaultSlots?: number;
  /** How long a call that does not wait for a slot retries etcd before failing (default 30 s). */
  operationTimeoutMs?: number;
  /** Bearer token for a FleetLock server that requires one (`keel lock serve --tokens`). */
  fleetlockToken?: string;
  /** How often a wait asks a FleetLock server again (it cannot hand a slot over); default 5 s. */
  fleetlockRetryMs?: number;
}

/** Opens the lock the settings describe. Nothing connects until the first call. */
export function openRebootLock(settings: LockSettings, options: OpenOptions = {}): RebootLock {
  const group = settings.group || defaultGroup;
  if (settings.fleetlockUrl)
    return new FleetLockClient({
      url: settings.fleetlockUrl,
      group,
      ...(options.log ? { log: options.log } : {}),
      ...(options.operationTimeoutMs !== undefined ? { operationTimeoutMs: options.operationTimeoutMs } : {}),
      ...(options.fleetlockToken ? { token: options.fleetlockToken } : {}),
      ...(options.fleetlockRetryMs !== undefined ? { retryIntervalMs: options.fleetlockRetryMs } : {}),
      ...fleetlockTls(settings),
    });
  return new SemaphoreLock({ store: openEtcdStore(settings), group, ...lockTuning(settings, options) });
}

/** The etcd store for the settings; 'invalid-input' when no endpoint is given. */
export function openEtcdStore(settings: LockSettings, extras: EtcdStoreExtras = {}): EtcdLockStore {
  if (settings.endpoints.length === 0)
    throw new KeelError('invalid-input', 'no etcd endpoints: set ENDPOINTS in /etc/keel/lock.conf, pass --endpoints, or use a FleetLock server (--fleetlock URL)');
  return new EtcdLockStore({ endpoints: settings.endpoints, cafile: settings.cafile, certfile: settings.certfile, keyfile: settings.keyfile, username: settings.username, password: settings.password }, extras);
}

/**
 * With a FleetLock URL there is no etcd connection, so the TLS files of the settings are
 * the FleetLock client's: the server's CA and the node's certificate (its CN the node id).
 */
function fleetlockTls(settings: LockSettings): { tls?: ClientTls } {
  const read = (file: string | undefined, what: string) => {
    if (!file) return undefined;
    try {
      return readFileSync(file);
    } catch (error) {
      throw new KeelError('invalid-input', `${what}: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); cannot reach the fleetlock server`, { cause: error });
    }
  };
  const tls = { ca: read(settings.cafile, 'cafile'), cert: read(settings.certfile, 'certfile'), key: read(settings.keyfile, 'keyfile') };
  if (Boolean(tls.cert) !== Boolean(tls.key)) throw new KeelError('invalid-input', 'certfile and keyfile: expected both or neither, found only one; cannot reach the fleetlock server');
  const given = Object.fromEntries(Object.entries(tls).filter(([, v]) => v)) as ClientTls;
  return Object.keys(given).length > 0 ? { tls: given } : {};
}

function lockTuning(settings: LockSettings, options: OpenOptions) {
  return {
    ...(settings.maxHold ? { maxHoldMs: readDurationMs(settings.maxHold, 'max hold time', { bare: 'seconds' }) } : {}),
    ...(options.defaultSlots !== undefined ? { defaultSlots: options.defaultSlots } : {}),
    ...(options.log ? { log: options.log } : {}),
    ...(options.operationTimeoutMs !== undefined ? { operationTimeoutMs: options.operationTimeoutMs } : {}),
  };
}
