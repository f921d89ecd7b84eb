/**
 * The user-data's digest and the instance id derived from it when a datasource gives none.
 * Apart from instance-id.ts (the safe names every planner module uses) so that
 * `keel cloud-config validate`, which never digests, does not load node's crypto (~2 ms a start).
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
