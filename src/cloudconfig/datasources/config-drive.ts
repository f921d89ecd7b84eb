/**
 * OpenStack's config drive: a filesystem labelled `config-2` with
 * `openstack/latest/user_data` and `openstack/latest/meta_data.json` (uuid, hostname,
 * public_keys); addresses come from `ec2/latest/meta-data.json` when the drive carries it.
 */
import { KeelError } from '../../errors.js';
import { checkedInstanceId, type DatasourceResult, type Metadata } from '../metadata.js';
import { dirSeedFiles, findDevicesByLabel, withSeedFilesystem, type SeedFiles } from './labelled-filesystem.js';
import { defaultMaxBytes, type DatasourceOptions } from './options.js';
import { flattenPublicKeys } from './public-keys.js';

export const configDriveLabel = 'config-2';

function parseJsonObject(text: string, file: string, where: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw new KeelError('invalid-input', `${where}: ${file} is not valid JSON (${(error as Error).message}); refusing this datasource`, { cause: error });
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new KeelError('invalid-input', `${where}: ${file} is not a JSON object; refusing this datasource`);
  }
  return doc as Record<string, unknown>;
}

/** Parses `meta_data.json` and, if given, the EC2-compatible `meta-data.json` beside it. */
export function parseConfigDriveMetaData(openstack: string | undefined, ec2: string | undefined, where: string): Metadata {
  const os = openstack ? parseJsonObject(openstack, 'meta_data.json', where) : {};
  const compat = ec2 ? parseJsonObject(ec2, 'ec2 meta-data.json', where) : {};
  const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
  const metadata: Metadata = { sshPublicKeys: flattenPublicKeys(os.public_keys) };
  const instanceId = str(os.uuid) ?? str(compat['instance-id']);
  const hostname = str(os.hostname) ?? str(compat['local-hostname']);
  const publicIpv4 = str(compat['public-ipv4']);
  const privateIpv4 = str(compat['local-ipv4']);
  if (instanceId) metadata.instanceId = checkedInstanceId(instanceId, where);
  if (hostname) metadata.hostname = hostname;
  if (publicIpv4) metadata.publicIpv4 = publicIpv4;
  if (privateIpv4) metadata.privateIpv4 = privateIpv4;
  return metadata;
}

/** Reads a config drive laid out in `dir`; undefined when it has no openstack/latest data. */
export function readConfigDriveDir(dir: string, source: string, maxBytes = defaultMaxBytes): Promise<DatasourceResult | undefined> {
  return readConfigDriveSeed(dirSeedFiles(dir, maxBytes), source);
}

/** Reads a config drive's files; undefined when it has no openstack/latest data. */
export async function readConfigDriveSeed(files: SeedFiles, source: string): Promise<DatasourceResult | undefined> {
  const userData = await files.read('openstack/latest/user_data');
  const metaJson = await files.read('openstack/latest/meta_data.json');
  if (!userData && !metaJson) return undefined;
  const ec2Json = await files.read('ec2/latest/meta-data.json');
  const decode = (b: Uint8Array | undefined) => (b ? new TextDecoder().decode(b) : undefined);
  return {
    source,
    userData: userData ?? new Uint8Array(),
    metadata: parseConfigDriveMetaData(decode(metaJson), decode(ec2Json), source),
  };
}

/** The config drive from `options.seedDir`, else from the filesystem labelled config-2. */
export async function readConfigDrive(options: DatasourceOptions = {}): Promise<DatasourceResult | undefined> {
  const maxBytes = options.maxBytes ?? defaultMaxBytes;
  if (options.seedDir) return readConfigDriveDir(options.seedDir, `config-drive:${options.seedDir}`, maxBytes);
  for (const device of await findDevicesByLabel([configDriveLabel], options.blockDevices)) {
    const result = await withSeedFilesystem(device, maxBytes, (files) => readConfigDriveSeed(files, `config-drive:${device}`), options.blockDevices);
    if (result) return result;
  }
  return undefined;
}
