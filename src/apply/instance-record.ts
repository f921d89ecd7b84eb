/**
 * The instance record: what was applied for an instance id, kept under the root so a second
 * apply for the same instance (the next boot) can tell (once-per-instance.ts decides what
 * then runs). It holds the user-data's hash, so a changed user-data for the same instance is
 * reported, not silently applied or ignored.
 */
import type { RootFs } from '../host/root-fs.js';
import { safeInstanceName } from '../cloudconfig/instance-id.js';

export const instancesDir = '/var/lib/keel/cloud-config/instances';

export interface InstanceRecord {
  instanceId: string;
  userDataSha256: string;
  /** ISO time of the apply (passed in by the caller). */
  appliedAt: string;
  keelVersion: string;
  /** How many operations were performed, and the unit commands or scripts that failed. */
  operations: number;
  failures: string[];
  /**
   * The bootcmd lines this instance runs on every boot; 0 lets a later boot skip keel
   * (keel-cloudinit-check reads it). Records written before keel counted them lack it; they count as some.
   */
  bootcmds?: number;
}

/** Where the record of `instanceId` lives, in the host's view. */
export function instanceRecordPath(instanceId: string): string {
  return `${instancesDir}/${safeInstanceName(instanceId)}.json`;
}

/** The record for `instanceId` under the root, or undefined when it was never applied. */
export async function readInstanceRecord(fs: RootFs, instanceId: string): Promise<InstanceRecord | undefined> {
  const text = await fs.read(instanceRecordPath(instanceId));
  if (!text) return undefined;
  try {
    return JSON.parse(text.toString('utf8')) as InstanceRecord;
  } catch {
    // A torn or hand-edited record: treat the instance as applied (the file exists) but unknown.
    return { instanceId, userDataSha256: '', appliedAt: '', keelVersion: '', operations: 0, failures: ['unreadable record'] };
  }
}

/** Writes the record atomically (0644 root), creating its directories (0755 root). */
export async function writeInstanceRecord(fs: RootFs, record: InstanceRecord): Promise<void> {
  await fs.writeAtomic(instanceRecordPath(record.instanceId), Buffer.from(JSON.stringify(record, null, 2) + '\n'), { mode: 0o644, uid: 0, gid: 0 });
}
