/**
 * What a datasource knows about the instance besides its user-data. The instance id keys
 * the once-per-instance record; addresses feed `$public_ipv4` and friends.
 */
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
