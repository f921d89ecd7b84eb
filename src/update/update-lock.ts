import { join } from 'node:path';
import type { RebootLock } from '../lock/reboot-lock.js';
import { readLockConf } from '../lock/lock-conf.js';
import { openRebootLock } from '../lock/open-reboot-lock.js';

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
