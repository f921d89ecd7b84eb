import { join } from 'node:path';
import type { RebootLock } from '../lock/reboot-lock.js';
import { readLockConf } from '../lock/lock-conf.js';
import { openRebootLock } from '../lock/open-reboot-lock.js';
import { defaultGroup } from '../lock/group-keys.js';
import type { Logger } from '../log.js';
import { FleetStore } from '../fleet/fleet-store.js';
import type { RolloutPolicy } from '../fleet/rollout-policy.js';
import { AgentFleet } from './agent-fleet.js';
import { machineIdOf } from './host-facts.js';

/**
 * Opens the reboot lock the strategy uses from /etc/keel/lock.conf (etcd endpoints or a
 * FleetLock URL, group), through the lock area's factory. Without a lock.conf it is
 * locksmith's default: etcd on 127.0.0.1:2379, which `best-effort` tolerates being absent.
 */
export async function openUpdateLock(root: string): Promise<RebootLock> {
  const settings = readLockConf(join(root, 'etc/keel/lock.conf'), false) ?? { endpoints: ['http://127.0.0.1:2379'] };
  if (settings.endpoints.length === 0 && !settings.fleetlockUrl) settings.endpoints = ['http://127.0.0.1:2379'];
  return openRebootLock(settings);
}

/**
 * The fleet records of the agent (docs/fleet.md), on the etcd of lock.conf, group = the
 * lock's group. None without a lock.conf naming etcd endpoints (a FleetLock server or no
 * lock.conf: nothing is published) or without a machine id.
 */
export async function openUpdateFleet(root: string, policy: RolloutPolicy, log: Logger): Promise<AgentFleet | undefined> {
  const settings = readLockConf(join(root, 'etc/keel/lock.conf'), false);
  if (!settings || settings.fleetlockUrl || settings.endpoints.length === 0) return undefined;
  const machineId = await machineIdOf(root);
  if (!machineId) return undefined;
  const { endpoints, cafile, certfile, keyfile, username, password } = settings;
  const store = new FleetStore({ endpoints, cafile, certfile, keyfile, username, password }, { log });
  return new AgentFleet({ store, group: settings.group || defaultGroup, machineId, policy, log });
}
