import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { parseConfigDriveMetaData } from '../../../../src/cloudconfig/datasources/config-drive.js';
import { readDatasource } from '../../../../src/cloudconfig/datasources/index.js';

describe('config-drive meta data', () => {
  test.each([
    ['nothing', undefined, undefined, { sshPublicKeys: [] }],
    ['openstack fields', '{"uuid":"u-1","hostname":"h1","public_keys":{"k":"ssh-rsa A"}}', undefined, { instanceId: 'u-1', hostname: 'h1', sshPublicKeys: ['ssh-rsa A'] }],
    ['ec2 compat addresses', '{"uuid":"u-2"}', '{"public-ipv4":"203.0.113.9","local-ipv4":"10.0.0.9","local-hostname":"ec2h"}', { instanceId: 'u-2', hostname: 'ec2h', publicIpv4: '203.0.113.9', privateIpv4: '10.0.0.9', sshPublicKeys: [] }],
    ['openstack hostname wins', '{"hostname":"os"}', '{"local-hostname":"ec2"}', { hostname: 'os', sshPublicKeys: [] }],
  ])('%s', (_, openstack, ec2, expected) => {
    expect(parseConfigDriveMetaData(openstack, ec2, 'config-drive:test')).toEqual(expected);
  });

  test.each([
    ['not JSON', '{uuid:', /meta_data.json is not valid JSON/],
    ['an array', '[1]', /meta_data.json is not a JSON object/],
  ])('%s is refused', (_, text, message) => {
    expect(() => parseConfigDriveMetaData(text, undefined, 'config-drive:/dev/sr1')).toThrow(message);
  });
});

describe('config-drive from a directory', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'keel-configdrive-test-'));
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  test('reads openstack/latest', async () => {
    await fs.mkdir(path.join(dir, 'openstack/latest'), { recursive: true });
    await fs.writeFile(path.join(dir, 'openstack/latest/user_data'), '#cloud-config\n');
    await fs.writeFile(path.join(dir, 'openstack/latest/meta_data.json'), JSON.stringify({ uuid: 'abc', hostname: 'cd', public_keys: { a: 'ssh-ed25519 X' } }));
    const result = await readDatasource('config-drive', { seedDir: dir });
    expect(result).toEqual({
      source: `config-drive:${dir}`,
      userData: new TextEncoder().encode('#cloud-config\n'),
      metadata: { instanceId: 'abc', hostname: 'cd', sshPublicKeys: ['ssh-ed25519 X'] },
    });
  });

  test('a directory without openstack/latest is no drive', async () => {
    await fs.writeFile(path.join(dir, 'user-data'), 'x');
    expect(await readDatasource('config-drive', { seedDir: dir })).toBeUndefined();
  });
});
