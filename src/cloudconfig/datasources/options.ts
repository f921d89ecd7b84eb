/**
 * What the datasources can be told: where to look besides their defaults, and how
 * patiently to ask network services. One options object serves every source so the CLI
 * can pass its flags through unchanged.
 */
import type { BlockDevices } from './labelled-filesystem.js';

/** The datasource names `--datasource` accepts. */
export const datasourceNames = ['nocloud', 'config-drive', 'cmdline', 'ec2', 'file'] as const;
export type DatasourceName = (typeof datasourceNames)[number];

export interface DatasourceOptions {
  /** NoCloud or config-drive from a directory instead of a labelled filesystem. */
  seedDir?: string;
  /** NoCloud seed URL (http(s) or file://) holding user-data and meta-data, as `ds=nocloud;s=URL`. */
  seedUrl?: string;
  /** The `file` source: a user-data file, or a directory with `user-data` and `meta-data`. */
  path?: string;
  /** Kernel command line to read; default /proc/cmdline. */
  cmdlinePath?: string;
  /** EC2-style metadata service base URL; default http://169.254.169.254/2009-04-04. */
  metadataUrl?: string;
  /** Per-request timeout for HTTP sources; default 5 s. */
  requestTimeoutMs?: number;
  /** Retries after a failed HTTP request (not after a 404); default 2. */
  retries?: number;
  /** Largest user-data accepted, in bytes; default 16 MiB. */
  maxBytes?: number;
  /** The block devices searched for labelled seeds; default the host's (tests pass image files). */
  blockDevices?: BlockDevices;
}

export const defaultMetadataUrl = 'http://169.254.169.254/2009-04-04';
export const defaultMaxBytes = 16 * 1024 * 1024;

/** True for a name `--datasource` accepts. */
export function isDatasourceName(name: string): name is DatasourceName {
  return (datasourceNames as readonly string[]).includes(name);
}
