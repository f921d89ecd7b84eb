/**
 * keel's own configuration files, from `keel.update`/`coreos.update`, `keel.lock`/`coreos.locksmith`
 * and `coreos.oem`.
 *
 * /etc/keel/update.conf and /etc/keel/lock.conf are env files (`KEY=value`, values quoted
 * with "" when needed; read them with parseEnvFile from src/systemd/env-file.ts), like
 * CoreOS's /etc/coreos/update.conf. A key is present only when the config set it.
 *
 * /etc/keel/update.conf keys:
 *   REBOOT_STRATEGY          etcd-lock | reboot | best-effort | off
 *   GROUP                    update group (CoreOS `group`)
 *   CHANNEL                  release channel
 *   SERVER                   update repository base URL
 *   TRUST_KEY                path of the pinned trust key
 *   CHECK_INTERVAL           time between checks, a duration such as 30m or 1m30s (src/duration.ts);
 *                            the agent still reads CHECK_INTERVAL_MINUTES, the form written before
 *   WINDOW_START             locksmith-style `[Day ]HH:MM`
 *   WINDOW_LENGTH            a duration, e.g. 1h30m or 90min, as cloud-config validated it
 *   WINDOWS                  number N of weekly windows, then for each n in 1..N:
 *   WINDOW_<n>_DAYS          comma-separated days, e.g. Mon,Tue
 *   WINDOW_<n>_START         HH:MM
 *   WINDOW_<n>_LENGTH_MINUTES
 *   WINDOW_<n>_TIME_ZONE     tz name (absent: UTC)
 *   POSTPONE_WHILE_LOGGED_IN true | false
 *   ROLLOUT_WARINESS         0.0 to 1.0
 *   BOOT_TRIES               boots of a new slot before systemd-boot falls back (1 to 10)
 *   ROLLOUT_MAX_FAILURES     failed nodes that halt a rollout: a count (3) or a percentage (5%)
 *   ROLLOUT_HEALTH_DEADLINE  a duration: not healthy this long after its reboot counts as failed
 *   PRE_REBOOT_COMMAND       /bin/sh command that must exit 0 before asking for a reboot slot
 *   PRE_REBOOT_UNITS         space-separated units that must be active before asking
 *   PRE_REBOOT_CONTAINERS    `all` or space-separated keel containers that must be active and healthy
 *   PRE_REBOOT_GROUP_CLEAR   a lock group of which no node may be failed or rebooting
 *   PRE_REBOOT_ETCD_QUORUM   auto | off: a host running an etcd member asks only while its cluster keeps quorum without it
 *
 * /etc/keel/lock.conf keys (mode 0600 when it holds a password):
 *   ENDPOINTS                comma-separated etcd URLs
 *   GROUP                    lock group
 *   ETCD_CAFILE, ETCD_CERTFILE, ETCD_KEYFILE, ETCD_USERNAME, ETCD_PASSWORD
 *   FLEETLOCK_URL            FleetLock server base URL (instead of etcd)
 *   MAX_HOLD                 release a dead holder after this long, e.g. 2h
 *   WINDOW_START, WINDOW_LENGTH  as in update.conf
 *
 * etcd's drop-in and unit: plan-etcd.ts. OEM: /etc/oem-release with ID, NAME, VERSION_ID,
 * HOME_URL, BUG_REPORT_URL.
 */
import type { CloudConfig } from './model.js';
import type { LockSettings } from '../lock/lock-settings.js';
import type { UpdateSettings } from '../update/update-settings.js';
import { type PlanBuilder, bytes, generatedBy } from './plan-context.js';
import { printEnvFile, quoteEnvValue } from '../systemd/env-file.js';
import { formatDuration } from '../duration.js';

export const updateConfPath = '/etc/keel/update.conf';
export const lockConfPath = '/etc/keel/lock.conf';
export const oemReleasePath = '/etc/oem-release';

const str = (v: string | number | boolean | undefined) => (v === undefined ? undefined : String(v));

export function updateConf(u: UpdateSettings): string | undefined {
  const pairs: [string, string | undefined][] = [
    ['REBOOT_STRATEGY', u.rebootStrategy],
    ['GROUP', u.group],
    ['CHANNEL', u.channel],
    ['SERVER', u.server],
    ['TRUST_KEY', u.trustKey],
    // A duration string the agent's reader accepts: `1.5` minutes was refused by it (issue 11).
    ['CHECK_INTERVAL', u.checkIntervalMinutes === undefined ? undefined : formatDuration(u.checkIntervalMinutes * 60_000)],
    ['WINDOW_START', u.windowStart],
    ['WINDOW_LENGTH', u.windowLength],
    ['WINDOWS', u.windows.length > 0 ? String(u.windows.length) : undefined],
    ...u.windows.flatMap((w, i): [string, string | undefined][] => [
      [`WINDOW_${i + 1}_DAYS`, w.days.join(',')],
      [`WINDOW_${i + 1}_START`, w.start],
      [`WINDOW_${i + 1}_LENGTH_MINUTES`, String(w.lengthMinutes)],
      [`WINDOW_${i + 1}_TIME_ZONE`, w.timeZone],
    ]),
    ['POSTPONE_WHILE_LOGGED_IN', str(u.postponeWhileLoggedIn)],
    ['ROLLOUT_WARINESS', str(u.rolloutWariness)],
    ['BOOT_TRIES', str(u.bootTries)],
    ['ROLLOUT_MAX_FAILURES', u.rolloutMaxFailures],
    ['ROLLOUT_HEALTH_DEADLINE', u.rolloutHealthDeadlineMs === undefined ? undefined : formatDuration(u.rolloutHealthDeadlineMs)],
    ['PRE_REBOOT_COMMAND', u.preRebootCommand],
    ['PRE_REBOOT_UNITS', u.preRebootUnits?.length ? u.preRebootUnits.join(' ') : undefined],
    ['PRE_REBOOT_CONTAINERS', Array.isArray(u.preRebootContainers) ? u.preRebootContainers.join(' ') : u.preRebootContainers],
    ['PRE_REBOOT_GROUP_CLEAR', u.preRebootGroupClear],
    ['PRE_REBOOT_ETCD_QUORUM', u.preRebootEtcdQuorum],
  ];
  if (pairs.every(([, v]) => v === undefined)) return undefined;
  return printEnvFile([generatedBy('update settings'), 'keys: see src/cloudconfig/plan-settings.ts'], pairs);
}

export function lockConf(l: LockSettings): string | undefined {
  const pairs: [string, string | undefined][] = [
    ['ENDPOINTS', l.endpoints.length > 0 ? l.endpoints.join(',') : undefined],
    ['GROUP', l.group],
    ['ETCD_CAFILE', l.cafile],
    ['ETCD_CERTFILE', l.certfile],
    ['ETCD_KEYFILE', l.keyfile],
    ['ETCD_USERNAME', l.username],
    ['ETCD_PASSWORD', l.password],
    ['FLEETLOCK_URL', l.fleetlockUrl],
    ['MAX_HOLD', l.maxHold],
    ['WINDOW_START', l.windowStart],
    ['WINDOW_LENGTH', l.windowLength],
  ];
  if (pairs.every(([, v]) => v === undefined)) return undefined;
  return printEnvFile([generatedBy('lock settings'), 'keys: see src/cloudconfig/plan-settings.ts'], pairs);
}

export function oemRelease(oem: Record<string, string>): string {
  return Object.entries(oem).map(([k, v]) => `${k.toUpperCase().replace(/-/g, '_')}=${quoteEnvValue(v)}`).join('\n') + '\n';
}

export function planSettings(b: PlanBuilder, config: CloudConfig | undefined): void {
  if (!config) return;
  if (config.oem && Object.keys(config.oem).length > 0) b.add({ kind: 'write-oem-release', file: { path: oemReleasePath, content: bytes(oemRelease(config.oem)), mode: 0o644 } });
  const update = updateConf(config.update);
  if (update) b.add({ kind: 'write-keel-config', purpose: 'update', file: { path: updateConfPath, content: bytes(update), mode: 0o644 } });
  const lock = lockConf(config.lock);
  if (lock) b.add({ kind: 'write-keel-config', purpose: 'lock', file: { path: lockConfPath, content: bytes(lock), mode: config.lock.password ? 0o600 : 0o644 } });
}
