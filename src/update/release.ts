import { isVersion } from './version-order.js';

/**
 * A release as the signed targets metadata describes it. Each file of a release is one TUF
 * target whose `custom.keel` says which release, channel and role it belongs to; the slot
 * image's target also carries the release-wide fields (rollout, groups).
 */
export type FileRole = 'slot' | 'kernel' | 'initramfs';

export interface ReleaseFile {
  /** Target path inside the repository's targets/ directory. */
  path: string;
  length: number;
  sha256: string;
}

/** One step of a rollout: from `at` on, `percent` of nodes may take the release (linear between steps). */
export interface RolloutStep {
  at: string;
  percent: number;
}

export interface Release {
  version: string;
  channel: string;
  slot: ReleaseFile;
  kernel?: ReleaseFile;
  initramfs?: ReleaseFile;
  rollout?: RolloutStep[];
  /** Groups allowed to take it; absent = every group. */
  groups?: string[];
}

/** What `custom.keel` holds on a target. */
export interface TargetCustom {
  version: string;
  channel: string;
  role: FileRole;
  rollout?: RolloutStep[];
  groups?: string[];
}

/** The subset of a TUF TargetFile keel reads. */
export interface TargetLike {
  path: string;
  length: number;
  hashes: Record<string, string>;
  custom: Record<string, unknown>;
}

/**
 * A channel name: it becomes a directory of the repository (targets/<channel>/), so lowercase
 * letters, digits, `.`, `_`, `-`, starting with a letter or digit (never `.` or `..`), at most 64.
 */
export function isChannelName(channel: string): boolean {
  return /^[a-z0-9][a-z0-9._-]{0,63}$/.test(channel);
}

/** What a channel name must look like, for messages. */
export const channelNameRule = 'a channel name (lowercase letters, digits, ".", "_" or "-", starting with a letter or digit, at most 64 characters)';

/** A file name inside a release: one path component, no `..`, nothing hidden. */
export function isReleaseFileName(name: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9._+~-]{0,254}$/.test(name);
}

/** The target path of a release file in a repository: `<channel>/<version>/<name>`. */
export function targetPathOf(channel: string, version: string, name: string): string {
  return `${channel}/${version}/${name}`;
}

/** Groups the verified targets into releases; targets that are not keel's are ignored. */
export function releasesOf(targets: Iterable<TargetLike>): Release[] {
  const byKey = new Map<string, Partial<Release> & { version: string; channel: string }>();
  for (const target of targets) {
    const custom = customOf(target.custom);
    const sha256 = target.hashes.sha256;
    if (!custom || !sha256) continue;
    const key = `${custom.channel}\u0000${custom.version}`;
    const release = byKey.get(key) ?? { version: custom.version, channel: custom.channel };
    const file: ReleaseFile = { path: target.path, length: target.length, sha256 };
    release[custom.role] = file;
    if (custom.role === 'slot') {
      if (custom.rollout) release.rollout = custom.rollout;
      if (custom.groups) release.groups = custom.groups;
    }
    byKey.set(key, release);
  }
  return [...byKey.values()].filter((r): r is Release => r.slot !== undefined);
}

function customOf(custom: Record<string, unknown>): TargetCustom | undefined {
  const k = custom.keel as Record<string, unknown> | undefined;
  if (!k || typeof k !== 'object') return undefined;
  const { version, channel, role, rollout, groups } = k;
  if (typeof version !== 'string' || !isVersion(version) || typeof channel !== 'string') return undefined;
  if (role !== 'slot' && role !== 'kernel' && role !== 'initramfs') return undefined;
  const out: TargetCustom = { version, channel, role };
  if (Array.isArray(rollout))
    out.rollout = rollout.filter(
      (s): s is RolloutStep => typeof s === 'object' && s !== null && typeof s.at === 'string' && typeof s.percent === 'number',
    );
  if (Array.isArray(groups)) out.groups = groups.filter((g): g is string => typeof g === 'string');
  return out;
}
