import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { readDatasource } from '../../../../src/cloudconfig/datasources/index.js';

let dir: string;
beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'keel-file-ds-'));
  await fs.writeFile(path.join(dir, 'cc.yaml'), '#cloud-config\n');
  await fs.mkdir(path.join(dir, 'seed'));
  await fs.writeFile(path.join(dir, 'seed/user-data'), '#!/bin/sh\necho hi\n');
  await fs.writeFile(path.join(dir, 'seed/meta-data'), 'instance-id: file-seed\n');
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

test('a file is the user-data', async () => {
  const result = await readDatasource('file', { path: path.join(dir, 'cc.yaml') });
  expect(result).toEqual({ source: `file:${dir}/cc.yaml`, userData: new TextEncoder().encode('#cloud-config\n'), metadata: { sshPublicKeys: [] } });
});

test('a directory is a NoCloud-style seed', async () => {
  const result = await readDatasource('file', { path: path.join(dir, 'seed') });
  expect(result?.source).toBe(`file:${dir}/seed`);
  expect(result?.metadata.instanceId).toBe('file-seed');
});

test('a missing path is no datasource', async () => {
  expect(await readDatasource('file', { path: path.join(dir, 'nope') })).toBeUndefined();
});

test('no path at all is a usage error', async () => {
  await expect(readDatasource('file')).rejects.toMatchObject({ kind: 'usage' });
});
