/**
 * A local file or directory as the datasource: a file is the user-data itself; a
 * directory holds `user-data` and `meta-data` laid out as a NoCloud seed.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { KeelError } from '../../errors.js';
import type { DatasourceResult } from '../metadata.js';
import { readOptional } from './labelled-filesystem.js';
import { readNocloudDir } from './nocloud-seed.js';
import { defaultMaxBytes, type DatasourceOptions } from './options.js';

export async function readFileSource(options: DatasourceOptions = {}): Promise<DatasourceResult | undefined> {
  if (!options.path) throw new KeelError('usage', 'the file datasource needs a path (a user-data file or a seed directory)');
  const where = path.resolve(options.path);
  const maxBytes = options.maxBytes ?? defaultMaxBytes;
  const stat = await fs.stat(where).catch(() => undefined);
  if (!stat) return undefined;
  if (stat.isDirectory()) return readNocloudDir(where, `file:${where}`, maxBytes);
  const userData = await readOptional(where, maxBytes);
  return userData ? { source: `file:${where}`, userData, metadata: { sshPublicKeys: [] } } : undefined;
}
