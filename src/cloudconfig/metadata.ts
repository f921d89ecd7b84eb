/**
 * What a datasource knows about the instance besides its user-data. The instance id keys
 * the once-per-instance record; addresses feed `$public_ipv4` and friends.
 */
import { KeelError } from '../errors.js';

export interface Metadata {
  instanceId?: string;
  hostname?: string;
  publicIpv4?: string;
  privateIpv4?: string;
  publicIpv6?: string;
  privateIpv6?: string;
  /** SSH keys the platform supplies; they go to the default user `core`. */
  sshPublicKeys: string[];
}

/** One datasource's answer: the raw user-data bytes (maybe gzipped) and the metadata. */
export interface DatasourceResult {
  /** The datasource's name and where it read from, for logs and errors (e.g. `nocloud:/dev/vdb`). */
  source: string;
  userData: Uint8Array;
  metadata: Metadata;
}

/**
 * What is wrong with an instance id from a datasource, or undefined when it is usable. The
 * id is hostile input: it lands in unit descriptions, script comments and file names, where
 * a newline or other control character would end a line early, so any is refused.
 */
export function instanceIdProblem(instanceId: string): string | undefined {
  // eslint-disable-next-line no-control-regex
  const control = /[\u0000-\u001f\u007f-\u009f]/.exec(instanceId);
  if (!control) return undefined;
  const code = control[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');
  return `instance id ${JSON.stringify(instanceId)} has a control character (U+${code}) at position ${control.index + 1}; expected printable text, since it names the instance's record, scripts and units`;
}

/** The instance id as a datasource read it, refused (invalid-input, naming `where`) when unusable. */
export function checkedInstanceId(instanceId: string, where: string): string {
  const problem = instanceIdProblem(instanceId);
  if (problem) throw new KeelError('invalid-input', `${where}: ${problem}; refusing this datasource`);
  return instanceId;
}
