import { KeelError } from '../errors.js';
import type { Release } from './release.js';
import { rolloutAllows } from './rollout.js';
import { compareVersions } from './version-order.js';

/**
 * Which release, if any, a node should install: pure, from verified releases and the node's
 * own facts. Downgrades are refused against both the running version and the highest
 * version this node has ever seen in verified metadata (persisted), so replayed or
 * rolled-back metadata cannot walk a node backwards.
 */
export interface ChoiceInput {
  releases: readonly Release[];
  channel: string;
  group?: string;
  runningVersion?: string;
  highestSeen?: string;
  /** Versions that failed their health gate here: never installed again. */
  failedVersions: readonly string[];
  /** `--version V`: exactly this one. */
  wanted?: string;
  /** Rollout inputs; without a machine id the rollout schedule is ignored (manual installs). */
  machineId?: string;
  wariness?: number;
  nowMs: number;
}

export type Choice = { kind: 'install'; release: Release } | { kind: 'none'; reason: string };

/** Picks the newest acceptable release, or says why there is none; throws on a downgrade or replay. */
export function chooseRelease(input: ChoiceInput): Choice {
  const inChannel = input.releases
    .filter((r) => r.channel === input.channel)
    .sort((a, b) => compareVersions(b.version, a.version));
  const newest = inChannel[0];
  if (input.highestSeen && newest && compareVersions(newest.version, input.highestSeen) < 0)
    throw new KeelError(
      'verification',
      `repository offers at most ${newest.version} on channel ${input.channel}, but ${input.highestSeen} was seen before: the metadata is replayed or rolled back; refusing to install`,
    );
  const floor = [input.runningVersion, input.highestSeen].filter((v): v is string => v !== undefined).sort(compareVersions).at(-1);
  if (input.wanted !== undefined) {
    const release = inChannel.find((r) => r.version === input.wanted);
    if (!release) throw new KeelError('not-found', `version ${input.wanted} is not in the verified metadata of channel ${input.channel}; nothing installed`);
    if (input.runningVersion && compareVersions(release.version, input.runningVersion) < 0)
      throw new KeelError('verification', `version ${release.version} is lower than the running ${input.runningVersion}: a downgrade; refusing to install`);
    if (input.highestSeen && compareVersions(release.version, input.highestSeen) < 0)
      throw new KeelError('verification', `version ${release.version} is lower than ${input.highestSeen}, the highest seen before: a downgrade; refusing to install`);
    if (input.failedVersions.includes(release.version))
      throw new KeelError('conflict', `version ${release.version} failed its health check on this node before; refusing to install it again`);
    return { kind: 'install', release };
  }
  if (!newest) return { kind: 'none', reason: `no release on channel ${input.channel}` };
  const skipped: string[] = [];
  const why = () => (skipped.length ? ` (skipped ${skipped.join('; ')})` : '');
  for (const release of inChannel) {
    if (input.runningVersion && compareVersions(release.version, input.runningVersion) <= 0)
      return { kind: 'none', reason: `${input.runningVersion} is the newest acceptable release${why()}` };
    if (floor && compareVersions(release.version, floor) < 0) break;
    if (input.failedVersions.includes(release.version)) skipped.push(`${release.version}: failed its health check here before`);
    else if (release.groups && (!input.group || !release.groups.includes(input.group))) skipped.push(`${release.version}: only for groups ${release.groups.join(', ')}`);
    else if (input.machineId && !rolloutAllows(release.rollout, input.nowMs, input.machineId, release.version, input.wariness)) skipped.push(`${release.version}: not rolled out to this node yet`);
    else return { kind: 'install', release };
  }
  return { kind: 'none', reason: `no acceptable release newer than ${floor ?? 'nothing'} on channel ${input.channel}${why()}` };
}
