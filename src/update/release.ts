import { isVersion } from './version-order.js';
import { verityFactsOf, type VerityFacts } from './verity-facts.js';

/**
 * A release as the signed targets metadata describes it. Each file of a release is one TUF
 * target whose `custom.keel` says which release, channel and role it belongs to; the slot
 * image's target also carries the release-wide fields (rollout, groups).
 */
export type FileRole = 'slot' | 'kernel' | 'initramfs';

/** Transport forms of a slot (docs/update.md, "Payloads"): zstd of the slot, or a zstd patch from an older slot. */
export type PayloadRole = 'slot-zstd' | 'slot-delta';

/** A slot image as bytes: what a payload must produce, or the slot a delta starts from. */
export interface SlotFacts {
  length: number;
  sha256: string;
}

/**
 * A compressed form of the release's slot. The target's own length and SHA-256 cover the
 * compressed object; `slot` (signed with it) the bytes it must decompress to, equal to the
 * release's slot target.
 */
export interface CompressedPayload extends ReleaseFile {
  /** zstd's window as a power of two: the decoder needs `--long=windowLog`. */
  windowLog: number;
  slot: SlotFacts;
}

/** A zstd `--patch-from` delta: applies only to the slot whose bytes hash to `from`. */
export interface DeltaPayload extends CompressedPayload {
  from: SlotFacts & { version: string };
}

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
  /** The slot zstd-compressed, when published. */
  compressed?: CompressedPayload;
  /** Deltas from older slots to this one. */
  deltas?: DeltaPayload[];
  /** The slot's dm-verity facts, signed on the slot target (verity-facts.ts). */
  verity?: VerityFacts;
  /** Why the signed verity object was refused: such a release is never installed. */
  verityProblem?: string;
}

/** What `custom.keel` holds on a target. */
export interface TargetCustom {
  version: string;
  channel: string;
  role: FileRole | PayloadRole;
  rollout?: RolloutStep[];
  groups?: string[];
  /** Payload targets: the slot they produce, their zstd window and (deltas) the slot they start from. */
  slot?: SlotFacts;
  windowLog?: number;
  from?: SlotFacts & { version: string };
  /** Slot targets: the verity object as signed, checked against the slot's length in releasesOf. */
  verity?: unknown;
}

/** The largest zstd window a node accepts (2 GiB): a bigger one is refused, not allocated. */
export const maxWindowLog = 31;

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
  const payloads: [string, TargetCustom, ReleaseFile][] = [];
  for (const target of targets) {
    const custom = customOf(target.custom);
    const sha256 = target.hashes.sha256;
    if (!custom || !sha256) continue;
    const key = `${custom.channel}\u0000${custom.version}`;
    const release = byKey.get(key) ?? { version: custom.version, channel: custom.channel };
    const file: ReleaseFile = { path: target.path, length: target.length, sha256 };
    byKey.set(key, release);
    if (custom.role === 'slot-zstd' || custom.role === 'slot-delta') {
      payloads.push([key, custom, file]);
      continue;
    }
    release[custom.role] = file;
    if (custom.role === 'slot') {
      if (custom.rollout) release.rollout = custom.rollout;
      if (custom.groups) release.groups = custom.groups;
      if (custom.verity !== undefined) {
        const checked = verityFactsOf(custom.verity, target.length);
        if ('facts' in checked) release.verity = checked.facts;
        else release.verityProblem = checked.problem;
      }
    }
  }
  // A payload counts only when it names the very slot its release signs (same length and hash).
  for (const [key, custom, file] of payloads) {
    const release = byKey.get(key)!;
    const { slot, windowLog, from } = custom;
    if (!release.slot || !slot || windowLog === undefined || slot.length !== release.slot.length || slot.sha256 !== release.slot.sha256) continue;
    if (custom.role === 'slot-zstd') release.compressed = { ...file, windowLog, slot };
    else if (from) (release.deltas ??= []).push({ ...file, windowLog, slot, from });
  }
  return [...byKey.values()].filter((r): r is Release => r.slot !== undefined);
}

function slotFactsOf(v: unknown): SlotFacts | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const { length, sha256 } = v as Record<string, unknown>;
  if (typeof length !== 'number' || !Number.isSafeInteger(length) || length < 0) return undefined;
  if (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256)) return undefined;
  return { length, sha256 };
}

const roles: readonly string[] = ['slot', 'kernel', 'initramfs', 'slot-zstd', 'slot-delta'];

function customOf(custom: Record<string, unknown>): TargetCustom | undefined {
  const k = custom.keel as Record<string, unknown> | undefined;
  if (!k || typeof k !== 'object') return undefined;
  const { version, channel, role, rollout, groups } = k;
  if (typeof version !== 'string' || !isVersion(version) || typeof channel !== 'string') return undefined;
  if (typeof role !== 'string' || !roles.includes(role)) return undefined;
  const out: TargetCustom = { version, channel, role: role as TargetCustom['role'] };
  if (Array.isArray(rollout))
    out.rollout = rollout.filter(
      (s): s is RolloutStep => typeof s === 'object' && s !== null && typeof s.at === 'string' && typeof s.percent === 'number',
    );
  if (Array.isArray(groups)) out.groups = groups.filter((g): g is string => typeof g === 'string');
  if (k.verity !== undefined) out.verity = k.verity;
  const slot = slotFactsOf(k.slot);
  if (slot) out.slot = slot;
  if (typeof k.windowLog === 'number' && Number.isInteger(k.windowLog) && k.windowLog >= 10 && k.windowLog <= maxWindowLog) out.windowLog = k.windowLog;
  const from = slotFactsOf(k.from);
  const fromVersion = (k.from as Record<string, unknown> | undefined)?.version;
  if (from && typeof fromVersion === 'string' && isVersion(fromVersion)) out.from = { ...from, version: fromVersion };
  return out;
}
