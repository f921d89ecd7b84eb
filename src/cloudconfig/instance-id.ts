/**
 * Instance ids as the planner uses them: the datasource's id, or one derived from the
 * user-data when there is none, and the safe form that names files and units.
 */
import { createHash } from 'node:crypto';

/** Hex sha256 of the user-data bytes, as given (before gunzip). */
export function userDataSha256(userData: Uint8Array): string {
  return createHash('sha256').update(userData).digest('hex');
}

/** The instance id `--from-file` uses when there is no metadata: derived from the user-data. */
export function localInstanceId(userData: Uint8Array): string {
  return `iid-local-${userDataSha256(userData).slice(0, 16)}`;
}

/** Instance ids come from datasources: keep file and unit names to a safe alphabet. */
export function safeInstanceName(instanceId: string): string {
  return instanceId.replace(/[^A-Za-z0-9_.-]/g, '_').replace(/^\.+/, '_').slice(0, 200);
}
