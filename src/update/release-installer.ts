import { join } from 'node:path';
import { fsFailure } from '../host/fs-failure.js';
import { probeSlotTarget } from './slot-target.js';
import { chooseRelease, type Choice } from './release-choice.js';
import { releasesOf, type Release } from './release.js';
import { maxVersion, readNodeState, updateNodeState } from './node-state.js';
import type { SlotPayloadResult } from './payload-install.js';
import { stageRelease } from './stage-release.js';
import { fetchTrustedTargets } from './trusted-metadata.js';
import { compareVersions } from './version-order.js';

/**
 * Finding and installing a release: `checkForRelease` (the agent's check and the first half
 * of `keel update install`) verifies the metadata and chooses; `installRelease` then stages
 * the choice with stage-release.ts, the step the agent uses too. Everything it refuses, it
 * refuses before touching the target.
 */
export interface InstallRequest {
  repo: string;
  trustPem: string;
  target: string;
  slot?: string;
  /** /var/lib/keel/update or a test directory: TUF metadata, records, status.json. */
  stateDir: string;
  channel: string;
  group?: string;
  wanted?: string;
  runningVersion?: string;
  machineId?: string;
  wariness?: number;
  nowMs: number;
  onProgress?: (written: number, total: number) => void;
  /** The running slot: a delta whose base it is may be used (stage-release.ts). */
  source?: string;
  onNote?: (message: string) => void;
  /** Accept a release without signed verity facts (stage-release.ts). */
  allowWithoutVerity?: boolean;
}

export type InstallOutcome =
  | { kind: 'installed'; release: Release; write: SlotPayloadResult }
  | { kind: 'none'; reason: string };

/** Finds what to install: verified metadata → releases → choice. Records the highest version seen. */
export async function checkForRelease(req: Omit<InstallRequest, 'target'>): Promise<Choice> {
  const trusted = await fetchTrustedTargets(req.repo, req.trustPem, join(req.stateDir, 'tuf'));
  const releases = releasesOf(trusted.targets);
  const state = await readNodeState(req.stateDir);
  const choice = chooseRelease({
    releases,
    channel: req.channel,
    failedVersions: state.failedVersions,
    nowMs: req.nowMs,
    ...(req.group !== undefined && { group: req.group }),
    ...(state.highestSeen !== undefined && { highestSeen: state.highestSeen }),
    ...(req.runningVersion !== undefined && { runningVersion: req.runningVersion }),
    ...(req.wanted !== undefined && { wanted: req.wanted }),
    ...(req.machineId !== undefined && { machineId: req.machineId }),
    ...(req.wariness !== undefined && { wariness: req.wariness }),
  });
  const newest = releases.filter((r) => r.channel === req.channel).map((r) => r.version).sort(compareVersions).at(-1);
  await updateNodeState(req.stateDir, (s) => ({ ...s, highestSeen: maxVersion(s.highestSeen, newest) }));
  return choice;
}

/** check + stage (without a boot entry): what `keel update install` does. */
export async function installRelease(req: InstallRequest): Promise<InstallOutcome> {
  // A target that cannot take an image is refused before any metadata or payload is fetched.
  await probeSlotTarget(req.target);
  const choice = await checkForRelease(req);
  if (choice.kind === 'none') return choice;
  try {
    return { kind: 'installed', release: choice.release, write: await stageRelease(req, choice.release) };
  } catch (error) {
    throw fsFailure(error, req.target, 'write the slot image', 'nothing installed');
  }
}
