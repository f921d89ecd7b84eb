import { KeelError } from '../errors.js';
import type { RebootLock } from '../lock/reboot-lock.js';

/**
 * Opens the reboot lock the strategy uses, from /etc/keel/lock.conf (the lock area's
 * settings: etcd endpoints or a FleetLock URL, group). Kept apart so the agent depends only
 * on the RebootLock interface.
 */
export async function openUpdateLock(root: string): Promise<RebootLock> {
  throw new KeelError('unavailable', `no reboot lock implementation wired yet (lock settings under ${root}etc/keel/lock.conf)`);
}
