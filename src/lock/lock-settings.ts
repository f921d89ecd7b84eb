/**
 * What the reboot lock is told: where the semaphore lives (etcd endpoints and credentials, or
 * a FleetLock server), the holder group, and the hold limits. `/etc/keel/lock.conf` holds it
 * (lock-conf.ts); cloud-config's `keel.lock` and `coreos.locksmith` translate into it.
 */
export interface LockSettings {
  endpoints: string[];
  group?: string;
  cafile?: string;
  certfile?: string;
  keyfile?: string;
  username?: string;
  password?: string;
  /** A FleetLock server base URL instead of etcd directly. */
  fleetlockUrl?: string;
  /** Automatically release a holder after this long (off when unset), e.g. `2h`. */
  maxHold?: string;
  windowStart?: string;
  windowLength?: string;
}
