/**
 * Decides whether a target disk is in use (pure): mounted (by device number or by source
 * path, for itself or any of its partitions), used as swap, or held by device-mapper/md.
 */

/** What the installer knows about the target and its partitions. */
export interface TargetDevice {
  /** The path given, e.g. /dev/loop3 or /work/disk.img. */
  path: string;
  kind: 'block' | 'file';
  sizeBytes: number;
  /** Kernel names of the disk and its partitions (loop3, loop3p1…); empty for files. */
  names: string[];
  /** `major:minor` of the disk and its partitions. */
  devNums: string[];
  /** Entries of holders/ of the disk and its partitions (dm-0…). */
  holders: string[];
  /** The target is itself a partition of another disk. */
  partitionOf?: string;
  readOnly: boolean;
}

/** One reason the target cannot be written, as a phrase. Empty when it is free. */
export function findDeviceUsers(target: TargetDevice, mountinfo: string, swaps: string): string[] {
  if (target.kind !== 'block') return [];
  const users: string[] = [];
  const devPaths = new Set(target.names.map((n) => `/dev/${n}`));
  devPaths.add(target.path);
  const nums = new Set(target.devNums);
  for (const line of mountinfo.split('\n')) {
    if (!line.trim()) continue;
    // id parent major:minor root mountpoint options [optional…] - fstype source superopts
    const fields = line.split(' ');
    const sep = fields.indexOf('-');
    const devNum = fields[2] ?? '';
    const mountPoint = unescapeMount(fields[4] ?? '');
    const source = sep >= 0 ? unescapeMount(fields[sep + 2] ?? '') : '';
    if (nums.has(devNum) || devPaths.has(source)) users.push(`mounted on ${mountPoint} (${source || devNum})`);
  }
  for (const line of swaps.split('\n').slice(1)) {
    const path = line.split(/\s+/)[0];
    if (path && devPaths.has(path)) users.push(`used as swap (${path})`);
  }
  for (const h of target.holders) users.push(`held by ${h}`);
  return users;
}

/** mountinfo escapes space, tab, newline and backslash as octal. */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}
