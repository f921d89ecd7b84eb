import type { RebootLock } from '../lock/reboot-lock.js';
import { readHostLockSettings } from '../lock/local-member.js';
import { openEtcdStore, openRebootLock } from '../lock/open-reboot-lock.js';
import { SemaphoreLock } from '../lock/semaphore-lock.js';
import { defaultGroup } from '../lock/group-keys.js';
import type { LockSettings } from '../lock/lock-settings.js';
import { readDurationMs } from '../duration.js';
import type { Logger } from '../log.js';
import { FleetStore } from '../fleet/fleet-store.js';
import { AgentFleet } from './agent-fleet.js';
import { machineIdOf } from './host-facts.js';
import type { UpdateConfig } from './update-config.js';

/**
 * Opens the reboot lock the strategy uses from /etc/keel/lock.conf (etcd endpoints or a
 * FleetLock URL, group), through the lock area's factory; where it names neither, the etcd
 * member cloud-config configured on this host (src/lock/local-member.ts). Without either it is
 * locksmith's default: etcd on 127.0.0.1:2379, which `best-effort` tolerates being absent.
 */
export async function openUpdateLock(root: string): Promise<RebootLock> {
  const settings = readHostLockSettings(root) ?? { endpoints: ['http://127.0.0.1:2379'] };
  if (settings.endpoints.length === 0 && !settings.fleetlockUrl) settings.endpoints = ['http://127.0.0.1:2379'];
  // A FleetLock server cannot hand a slot over: a waiting agent asks it every 30 s, as it did
  // before it waited, not at the interactive `keel lock acquire --wait`'s 5 s.
  return openRebootLock(settings, { fleetlockRetryMs: 30_000 });
}

/** The agent's etcd side: its reboot lock (opened on first use), its fleet records if any, and what closes their connection. */
export interface AgentEtcd {
  openLock: () => Promise<RebootLock>;
  fleet: AgentFleet | undefined;
  /** Closes the shared connection when the lock was never handed out (else closing the lock closes it). */
  close(): Promise<void>;
}

/**
 * The lock and the fleet records of the agent (docs/fleet.md) on ONE etcd client: when
 * lock.conf names etcd endpoints and the machine has an id, the lock's store is made first
 * and the fleet store rides on its client, so the process has one gRPC channel per member
 * and one place that closes it (the lock). Otherwise (a FleetLock server, no lock.conf, no
 * machine id, or `fleet` false) nothing is published and the lock is `openUpdateLock`'s.
 */
export async function openAgentEtcd(root: string, config: UpdateConfig, log: Logger, options: { fleet: boolean }): Promise<AgentEtcd> {
  const settings = readHostLockSettings(root);
  const machineId = options.fleet ? await machineIdOf(root) : undefined;
  if (!settings || settings.fleetlockUrl || settings.endpoints.length === 0 || !machineId)
    return { openLock: () => openUpdateLock(root), fleet: undefined, close: async () => undefined };
  const group = settings.group || defaultGroup;
  // One client and one lease per agent: the lock's queue key rides on the node record's lease.
  let store: FleetStore | undefined;
  const lockStore = openEtcdStore(settings, { lease: () => store!.nodeLeaseId() });
  const lock = new SemaphoreLock({ store: lockStore, group, ...maxHold(settings) });
  store = new FleetStore({ client: lockStore.client }, { log });
  const fleet = new AgentFleet({ store, group, machineId, policy: config.rollout, log, ...(config.hostname !== undefined && { hostname: config.hostname }) });
  let handedOut = false;
  return {
    openLock: async () => ((handedOut = true), lock),
    fleet,
    close: async () => {
      if (!handedOut) await lock.close();
    },
  };
}

/** lock.conf's MAX_HOLD, as openRebootLock reads it. */
function maxHold(settings: LockSettings): { maxHoldMs?: number } {
  return settings.maxHold ? { maxHoldMs: readDurationMs(settings.maxHold, 'max hold time', { bare: 'seconds' }) } : {};
}
