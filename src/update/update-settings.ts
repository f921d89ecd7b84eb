/**
 * What the update agent is told: where releases come from, which it follows, and when and
 * how it may reboot into one. `/etc/keel/update.conf` holds it (update-config.ts reads it);
 * cloud-config's `keel.update` and `coreos.update` translate into it.
 */

/** How a staged release is rebooted into (locksmith's names, plus `off`). */
export type RebootStrategy = 'etcd-lock' | 'reboot' | 'best-effort' | 'off';

/** Every reboot strategy, in the order messages list them. */
export const rebootStrategies: readonly RebootStrategy[] = ['etcd-lock', 'reboot', 'best-effort', 'off'];

/** Zincati-style weekly window: days, start time, length, time zone. */
export interface WeeklyWindow {
  days: string[];
  /** `HH:MM` */
  start: string;
  /** minutes */
  lengthMinutes: number;
  timeZone?: string;
}

/** The settings update.conf carries. */
export interface UpdateSettings {
  rebootStrategy?: RebootStrategy;
  /** Channel or group a node follows (CoreOS `group`). */
  group?: string;
  channel?: string;
  /** Update repository base URL (CoreOS `server`). */
  server?: string;
  /** Path of the pinned trust key inside the image, overridable. */
  trustKey?: string;
  checkIntervalMinutes?: number;
  /** locksmith form, `[Day ]HH:MM` with a duration; both or neither. */
  windowStart?: string;
  windowLength?: string;
  windows: WeeklyWindow[];
  /** Postpone a reboot while users are logged in. */
  postponeWhileLoggedIn?: boolean;
  /** Wariness 0.0–1.0 for phased rollouts (Zincati's rollout_wariness). */
  rolloutWariness?: number;
  /** Boots a new slot gets (systemd-boot's counter) before the previous one comes back (BOOT_TRIES). */
  bootTries?: number;
  /** The rollout brake (ROLLOUT_MAX_FAILURES as written: `3` or `5%`; ROLLOUT_HEALTH_DEADLINE). */
  rolloutMaxFailures?: string;
  rolloutHealthDeadlineMs?: number;
  /** Pre-reboot checks: a /bin/sh command that must exit 0, units that must be active. */
  preRebootCommand?: string;
  preRebootUnits?: string[];
  /** Keel containers that must be active and healthy: `all` or names (PRE_REBOOT_CONTAINERS). */
  preRebootContainers?: 'all' | string[];
  /** A fleet group with no failed or rebooting node (PRE_REBOOT_GROUP_CLEAR). */
  preRebootGroupClear?: string;
  /** Whether a host that runs an etcd member waits for its cluster to keep a quorum without it (PRE_REBOOT_ETCD_QUORUM). */
  preRebootEtcdQuorum?: 'auto' | 'off';
}
