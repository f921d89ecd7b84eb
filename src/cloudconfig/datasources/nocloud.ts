/**
 * NoCloud, cloud-init's local seed: a vfat or iso9660 filesystem labelled `cidata` (or
 * `CIDATA`) holding `user-data` and `meta-data` (YAML: instance-id, local-hostname,
 * public-keys). `network-config` is ignored. The same layout in a directory (`seedDir`)
 * serves tests and offline use.
 */
import fs from 'node:fs/promises';
import type { DatasourceResult } from '../metadata.js';
import { findDevicesByLabel, withSeedFilesystem } from './labelled-filesystem.js';
import { readNocloudDir, readNocloudSeed } from './nocloud-seed.js';
import { readNocloudUrl, seedUrlFromCmdline } from './nocloud-url.js';
import { defaultMaxBytes, type DatasourceOptions } from './options.js';

export const nocloudLabels = ['cidata', 'CIDATA'] as const;

/**
 * NoCloud from `options.seedDir`, else from a seed URL (`options.seedUrl`, or `ds=nocloud;s=URL`
 * on the kernel command line), else from the first filesystem labelled cidata/CIDATA.
 */
export async function readNocloud(options: DatasourceOptions = {}): Promise<DatasourceResult | undefined> {
  const maxBytes = options.maxBytes ?? defaultMaxBytes;
  if (options.seedDir) return readNocloudDir(options.seedDir, `nocloud:${options.seedDir}`, maxBytes);
  const cmdline = await fs.readFile(options.cmdlinePath ?? '/proc/cmdline', 'utf8').catch(() => '');
  const seedUrl = options.seedUrl ?? seedUrlFromCmdline(cmdline);
  if (seedUrl) return readNocloudUrl(seedUrl, options);
  for (const device of await findDevicesByLabel(nocloudLabels, options.blockDevices)) {
    const result = await withSeedFilesystem(device, maxBytes, (files) => readNocloudSeed(files, `nocloud:${device}`), options.blockDevices);
    if (result) return result;
  }
  return undefined;
}
