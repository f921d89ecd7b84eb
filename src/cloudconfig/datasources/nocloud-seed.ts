/**
 * A NoCloud seed's contents, wherever they come from (a directory, a labelled disk, a seed
 * URL): `user-data` and `meta-data` (YAML: instance-id, local-hostname, public-keys).
 * nocloud.ts (disks, directories) and nocloud-url.ts (URLs) both read seeds through here.
 */
import { parse } from 'yaml';
import { KeelError } from '../../errors.js';
import { checkedInstanceId, type DatasourceResult, type Metadata } from '../metadata.js';
import { dirSeedFiles, type SeedFiles } from './labelled-filesystem.js';
import { defaultMaxBytes } from './options.js';
import { flattenPublicKeys } from './public-keys.js';

/** Parses NoCloud meta-data; `where` names the source in error messages. */
export function parseNocloudMetaData(text: string, where: string): Metadata {
  let doc: unknown;
  try {
    doc = text.trim() === '' ? {} : parse(text, { maxAliasCount: 100 });
  } catch (error) {
    throw new KeelError('invalid-input', `${where}: meta-data is not valid YAML (${(error as Error).message.split('\n')[0]}); refusing this datasource`, { cause: error });
  }
  if (doc === null || doc === undefined) doc = {};
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new KeelError('invalid-input', `${where}: meta-data is a ${Array.isArray(doc) ? 'list' : typeof doc}, expected a mapping; refusing this datasource`);
  }
  const m = doc as Record<string, unknown>;
  const text_ = (key: string) => (typeof m[key] === 'string' || typeof m[key] === 'number' ? String(m[key]) : undefined);
  const metadata: Metadata = { sshPublicKeys: flattenPublicKeys(m['public-keys'] ?? m['public_keys']) };
  const instanceId = text_('instance-id') ?? text_('instance_id');
  const hostname = text_('local-hostname') ?? text_('local_hostname') ?? text_('hostname');
  if (instanceId) metadata.instanceId = checkedInstanceId(instanceId, where);
  if (hostname) metadata.hostname = hostname;
  return metadata;
}

/** Reads a NoCloud seed laid out in `dir`; undefined when neither file is there. */
export function readNocloudDir(dir: string, source: string, maxBytes = defaultMaxBytes): Promise<DatasourceResult | undefined> {
  return readNocloudSeed(dirSeedFiles(dir, maxBytes), source);
}

/** Reads a NoCloud seed's two files; undefined when neither is there. */
export async function readNocloudSeed(files: SeedFiles, source: string): Promise<DatasourceResult | undefined> {
  const userData = await files.read('user-data');
  const metaData = await files.read('meta-data');
  if (!userData && !metaData) return undefined;
  return {
    source,
    userData: userData ?? new Uint8Array(),
    metadata: parseNocloudMetaData(new TextDecoder().decode(metaData ?? new Uint8Array()), source),
  };
}
