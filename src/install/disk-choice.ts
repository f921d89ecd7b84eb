/**
 * `keel install --device auto` (pure): which disk to install on, from facts about every
 * whole disk. The rule (docs/install.md):
 *  1. a disk named on the kernel command line (`keel.install.device=`): a path, a
 *     /dev/disk/by-id name (with or without the directory) or a kernel name; it must be a
 *     whole disk that is not in use, not the installer's medium, not read-only, big enough;
 *  2. else the only disk that is not removable, not in use, not the installer's medium,
 *     big enough, and blank: no partitions and no filesystem, RAID or partition-table
 *     signature (wipefs finds none);
 *  3. else refuse, listing every disk with why it was not chosen.
 * Facts come from an edge (disk-facts.ts); names in them are hostile input and are made
 * printable before they reach a message.
 */

/** What the edge learned about one whole disk. */
export interface DiskFacts {
  /** The kernel's name: sda, nvme0n1, vda. */
  name: string;
  /** /dev/<name>. */
  path: string;
  sizeBytes: number;
  /** Vendor and model as the kernel reports them; '' when it reports none. */
  model: string;
  removable: boolean;
  readOnly: boolean;
  /** Other paths and names for it: /dev/disk/by-id/…, /dev/disk/by-path/…, and by-id names derived from sysfs. */
  aliases: string[];
  /** Signatures wipefs found on it: 'gpt', 'PMBR', 'ext4', 'linux_raid_member'… */
  signatures: string[];
  /** Kernel names of its partitions. */
  partitions: string[];
  /** Why it is in use: 'mounted on / (/dev/sda2)', 'used as swap…', 'held by dm-0'. */
  users: string[];
  /** Why it is the installer's own medium, when it is. */
  medium?: string;
}

/** One line of the list a choice or a refusal carries. */
export interface DiskCandidate {
  path: string;
  sizeBytes: number;
  model: string;
  /** 'chosen', or why not. */
  reason: string;
}

export type DiskChoice =
  | { ok: true; path: string; rule: 'named' | 'only-blank-disk'; candidates: DiskCandidate[] }
  | { ok: false; message: string; candidates: DiskCandidate[] };

export interface DiskRequest {
  /** The value of keel.install.device= on the kernel command line, if any. */
  named?: string;
  /** The image's size: a smaller disk cannot take it. */
  minBytes: number;
}

/** The kernel command line parameter that names the install disk. */
export const deviceParameter = 'keel.install.device';

/** Why a disk cannot take the install at all, even when named; undefined when it can. */
function blocker(disk: DiskFacts, minBytes: number): string | undefined {
  if (disk.users.length) return `in use: ${disk.users.join('; ')}`;
  if (disk.medium) return `the installer's own medium (${disk.medium})`;
  if (disk.readOnly) return 'read-only';
  if (disk.sizeBytes <= 0) return 'no medium (0 bytes)';
  if (disk.sizeBytes < minBytes) return `smaller than the image (${disk.sizeBytes} < ${minBytes} bytes)`;
  return undefined;
}

/** Why the automatic rule passes a disk over; undefined when it is a blank candidate. */
function notBlank(disk: DiskFacts, minBytes: number): string | undefined {
  const blocked = blocker(disk, minBytes);
  if (blocked) return blocked;
  if (disk.removable) return 'removable';
  if (disk.partitions.length) return `has partitions (${disk.partitions.join(', ')})`;
  if (disk.signatures.length) return `holds data (${disk.signatures.join(', ')} signature)`;
  return undefined;
}

function candidate(disk: DiskFacts, reason: string): DiskCandidate {
  return { path: disk.path, sizeBytes: disk.sizeBytes, model: disk.model, reason };
}

/** Does `named` name this disk: its path, an alias, a bare by-id name or its kernel name. */
function names(disk: DiskFacts, named: string): boolean {
  return disk.path === named || disk.name === named || disk.aliases.includes(named) || disk.aliases.includes(`/dev/disk/by-id/${named}`);
}

/** Applies the rule; never throws. */
export function chooseDisk(disks: readonly DiskFacts[], request: DiskRequest): DiskChoice {
  const sorted = [...disks].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const named = request.named?.trim();
  if (request.named !== undefined) {
    const shown = printable(request.named);
    if (!named) return { ok: false, message: `${deviceParameter}= is empty; expected a disk's path or /dev/disk/by-id name; refusing to choose a disk`, candidates: sorted.map((d) => candidate(d, 'not named')) };
    const matches = sorted.filter((d) => names(d, named));
    if (matches.length !== 1) {
      const why = matches.length ? `names ${matches.length} disks` : 'names no whole disk here';
      return { ok: false, message: `${deviceParameter}=${shown} ${why}; refusing to choose a disk`, candidates: sorted.map((d) => candidate(d, matches.includes(d) ? 'named, ambiguous' : 'not named')) };
    }
    const disk = matches[0]!;
    const blocked = blocker(disk, request.minBytes);
    const candidates = sorted.map((d) => candidate(d, d === disk ? (blocked ?? 'chosen') : 'not named'));
    if (blocked) return { ok: false, message: `${deviceParameter}=${shown} names ${printable(disk.path)}, which cannot take the install: ${printable(blocked)}; refusing to overwrite it`, candidates };
    return { ok: true, path: disk.path, rule: 'named', candidates };
  }
  const reasons = new Map(sorted.map((d) => [d, notBlank(d, request.minBytes)]));
  const blank = sorted.filter((d) => reasons.get(d) === undefined);
  if (blank.length === 1) {
    const chosen = blank[0]!;
    return { ok: true, path: chosen.path, rule: 'only-blank-disk', candidates: sorted.map((d) => candidate(d, d === chosen ? 'chosen' : reasons.get(d)!)) };
  }
  const candidates = sorted.map((d) => candidate(d, reasons.get(d) ?? `one of ${blank.length} blank disks`));
  const message = blank.length
    ? `${blank.length} blank non-removable disks, expected exactly one; name one with ${deviceParameter}= on the kernel command line; refusing to choose a disk`
    : sorted.length
      ? `no blank non-removable disk big enough (${request.minBytes} bytes) among ${sorted.length}; name one with ${deviceParameter}= or wipe one; refusing to choose a disk`
      : 'no disks found; nothing to install on';
  return { ok: false, message, candidates };
}

/** Control characters, line and paragraph separators become '?', and long text is cut: one line per disk, whatever a device reports. */
export function printable(text: string, max = 96): string {
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069]/g, '?');
  return clean.length > max ? `${clean.slice(0, max - 1)}…` : clean;
}

/** Decimal size as disk vendors print it: 480.1 GB. */
export function formatSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let value = bytes;
  let i = 0;
  while (value >= 1000 && i < units.length - 1) {
    value /= 1000;
    i++;
  }
  return i === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[i]}`;
}

/** The list, one line per disk: path, size, model, why (not) chosen. */
export function formatCandidates(candidates: readonly DiskCandidate[]): string {
  return candidates.map((c) => `  ${printable(c.path, 64)}  ${formatSize(c.sizeBytes)}  ${c.model ? printable(c.model, 48) : '(no model)'}  ${printable(c.reason, 400)}`).join('\n');
}
