/**
 * The etcd member a cloud-config configures (`coreos.etcd2` / `keel.etcd`): Debian's
 * etcd.service with a drop-in of `ETCD_*` environment, run on this host from now on.
 *
 * CoreOS re-applied its cloud-config at every boot, so a `command: start` of etcd2 started the
 * member after every reboot. keel applies a config once per instance, so given etcd settings it
 * also enables etcd.service: a member that did not come back after an update's reboot would
 * leave its cluster one short, and the next host to reboot would take quorum with it.
 *
 * On a live host etcd.service is started without waiting for it to be ready: etcd says READY
 * only once a quorum of initial_cluster has formed, which on the first host of a new cluster
 * means waiting for the others, and keel-cloudinit (ordered before ssh and logins) must not.
 */
import type { CloudConfig, Unit } from './model.js';
import { type PlanBuilder, bytes, generatedBy } from './plan-context.js';
import type { PlannedUnitCommand } from './plan-units.js';
import { etcdMemberDropInPath } from '../lock/local-member.js';
import { environmentAssignment } from '../systemd/unit-file.js';

export const etcdUnit = 'etcd.service';
/** Read back by src/lock/local-member.ts, which makes the member every client's default. */
export const etcdDropInPath = etcdMemberDropInPath;


/**
 * The drop-in: the environment, plus what a member needs at boot that Debian's unit lacks.
 * Values go through the unit-file model's one encoder for `Environment=` (quoted and
 * C-escaped where needed), so no value can end its line and add a directive of its own.
 * It listens on the addresses of its URLs, which a static address (networkd) may not carry yet
 * at network.target, and Debian's `Restart=on-abnormal` leaves it dead after the clean exit
 * that a bind failure, a missing TLS file or a start timeout while waiting for peers is.
 */
export function etcdDropIn(environment: Record<string, string>): string {
  return [
    '# ' + generatedBy('etcd settings'),
    '[Unit]',
    'Wants=network-online.target',
    'After=network-online.target',
    '',
    '[Service]',
    'Restart=on-failure',
    'RestartSec=5s',
    ...Object.entries(environment).map(([k, v]) => `Environment=${environmentAssignment(k, v)}`),
    '',
  ].join('\n');
}

/**
 * What keel adds to a member's flags unless the config sets them: the history compacted
 * every hour (etcd keeps every revision by default, so a member that hosts the fleet's lock
 * and records grows with every roll until its space quota stops all writes, the reboot lock
 * with them; keel's watchers start from a recent read and replace a watch etcd cancels).
 */
export const memberDefaults: Record<string, string> = { ETCD_AUTO_COMPACTION_MODE: 'periodic', ETCD_AUTO_COMPACTION_RETENTION: '1h' };

/** The member's environment: the config's flags, and `memberDefaults` when it sets neither compaction flag. */
export function memberEnvironment(environment: Record<string, string>): Record<string, string> {
  const setsCompaction = Object.keys(memberDefaults).some((k) => k in environment);
  return setsCompaction ? environment : { ...environment, ...memberDefaults };
}

/** Whether the config sets any etcd flag (the host then runs a member). */
export function configuresEtcd(config: CloudConfig | undefined): boolean {
  return Object.keys(config?.etcd?.environment ?? {}).length > 0;
}

/** etcd's drop-in belongs with the units (before the one daemon-reload). */
export function planEtcd(b: PlanBuilder, config: CloudConfig | undefined): boolean {
  if (!configuresEtcd(config)) return false;
  b.add({ kind: 'write-etcd-environment', file: { path: etcdDropInPath, content: bytes(etcdDropIn(memberEnvironment(config!.etcd!.environment))), mode: 0o644 } });
  return true;
}

/**
 * CoreOS configs name etcd's unit `etcd2.service`; keel's (Debian's) is `etcd.service`, where
 * `coreos.etcd2` settings go too. A bare reference (no content of its own) is taken as etcd.service.
 */
export function etcdUnitOf(b: PlanBuilder, u: Unit): Unit {
  if (u.name !== 'etcd2.service' || u.content !== undefined) return u;
  b.note('etcd2.service is called etcd.service on keel; applying its settings to etcd.service');
  return { ...u, name: etcdUnit };
}

/**
 * The units with etcd.service enabled, and on a live host started, when the config sets etcd
 * flags: added when the config does not name it, completed when it does (its own command
 * stays; a mask wins). An offline root needs no start: the enabled unit starts at its boot.
 */
export function withEtcdMember(b: PlanBuilder, units: Unit[], config: CloudConfig | undefined, live: boolean): Unit[] {
  if (!configuresEtcd(config)) return units;
  const i = units.findIndex((u) => u.name === etcdUnit && u.runtime !== true);
  const given = i < 0 ? undefined : units[i]!;
  if (given?.mask) {
    b.note('etcd settings are given but etcd.service is masked; the member will not run');
    return units;
  }
  const command = given?.command ?? (live ? 'start' : undefined);
  const member: Unit = { name: etcdUnit, dropIns: [], ...given, enable: true, ...(command ? { command } : {}) };
  if (!given?.enable) b.note('etcd settings are given: etcd.service is enabled, so the member starts at every boot');
  return i < 0 ? [...units, member] : units.map((u, j) => (j === i ? member : u));
}

/** etcd's start (and restart) is queued, not waited for: its readiness waits for a quorum. */
export function waitsForJob(c: PlannedUnitCommand): boolean {
  return !(c.unit === etcdUnit && (c.command === 'start' || c.command === 'restart'));
}
