import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { publicKeyIndexes } from '../../../../src/cloudconfig/datasources/ec2.js';
import { readDatasource } from '../../../../src/cloudconfig/datasources/index.js';
import { deadUrl, serve, type TestServer } from './http-server.js';

const v = '/2009-04-04';

test.each([
  ['', []],
  ['0=my-key\n', ['0']],
  ['0=a\n1=b\n', ['0', '1']],
  ['junk\n2=c', ['2']],
])('public-keys listing %j', (listing, expected) => {
  expect(publicKeyIndexes(listing)).toEqual(expected);
});

describe('EC2-style metadata service on 127.0.0.1', () => {
  let full: TestServer;
  let bare: TestServer;
  beforeAll(async () => {
    full = await serve({
      [`${v}/meta-data/instance-id`]: 'i-0123456789',
      [`${v}/meta-data/local-hostname`]: 'ip-10-0-0-5.internal\n',
      [`${v}/meta-data/public-ipv4`]: '203.0.113.5',
      [`${v}/meta-data/local-ipv4`]: '10.0.0.5',
      [`${v}/meta-data/public-keys/`]: '0=first\n1=second\n',
      [`${v}/meta-data/public-keys/0/openssh-key`]: 'ssh-rsa AAA first\n',
      [`${v}/meta-data/public-keys/1/openssh-key`]: 'ssh-ed25519 BBB second',
      [`${v}/user-data`]: '#cloud-config\nhostname: $public_ipv4\n',
    });
    bare = await serve({ [`${v}/meta-data/instance-id`]: 'i-bare' });
  });
  afterAll(async () => {
    await full.close();
    await bare.close();
  });

  test('reads metadata, keys and user-data', async () => {
    const result = await readDatasource('ec2', { metadataUrl: `${full.url}${v}` });
    expect(result?.source).toBe(`ec2:${full.url}${v}`);
    expect(result?.metadata).toEqual({
      instanceId: 'i-0123456789',
      hostname: 'ip-10-0-0-5.internal',
      publicIpv4: '203.0.113.5',
      privateIpv4: '10.0.0.5',
      sshPublicKeys: ['ssh-rsa AAA first', 'ssh-ed25519 BBB second'],
    });
    expect(new TextDecoder().decode(result?.userData)).toBe('#cloud-config\nhostname: $public_ipv4\n');
  });

  test('a trailing slash on the base URL is fine', async () => {
    expect((await readDatasource('ec2', { metadataUrl: `${full.url}${v}/` }))?.metadata.instanceId).toBe('i-0123456789');
  });

  test('404 for user-data and optional keys means empty', async () => {
    const result = await readDatasource('ec2', { metadataUrl: `${bare.url}${v}` });
    expect(result?.userData.byteLength).toBe(0);
    expect(result?.metadata).toEqual({ instanceId: 'i-bare', sshPublicKeys: [] });
  });

  test('no service listening means no datasource', async () => {
    expect(await readDatasource('ec2', { metadataUrl: `${await deadUrl()}${v}`, retries: 0 })).toBeUndefined();
  });
});
