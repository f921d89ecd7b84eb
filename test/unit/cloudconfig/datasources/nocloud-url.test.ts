import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { seedUrlFromCmdline } from '../../../../src/cloudconfig/datasources/nocloud-url.js';
import { readDatasource } from '../../../../src/cloudconfig/datasources/index.js';
import { serve, type TestServer } from './http-server.js';

test.each([
  ['nothing', 'root=/dev/vda quiet', undefined],
  ['ds=nocloud;s=', 'ds=nocloud;s=http://10.0.2.2:8000/ quiet', 'http://10.0.2.2:8000/'],
  ['nocloud-net and seedfrom', 'ds=nocloud-net;seedfrom=http://h/seed/', 'http://h/seed/'],
  ['other settings around it', 'ds=nocloud;h=myhost;s=file:///var/seed/;i=iid', 'file:///var/seed/'],
  ['another datasource', 'ds=ec2;s=http://no/', undefined],
  ['ds=nocloud alone', 'ds=nocloud', undefined],
])('%s', (_, cmdline, expected) => {
  expect(seedUrlFromCmdline(cmdline)).toBe(expected);
});

describe('NoCloud from a seed URL', () => {
  let server: TestServer;
  let dir: string;
  beforeAll(async () => {
    server = await serve({
      '/seed/user-data': '#cloud-config\nhostname: over-http\n',
      '/seed/meta-data': 'instance-id: iid-http\n',
      '/meta-only/meta-data': 'instance-id: iid-meta-only\n',
    });
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'keel-nocloud-url-'));
    await fs.writeFile(path.join(dir, 'user-data'), '#cloud-config\n');
    await fs.writeFile(path.join(dir, 'meta-data'), 'instance-id: iid-file-url\n');
  });
  afterAll(async () => {
    await server.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  test('over HTTP, a missing slash at the end is added', async () => {
    const result = await readDatasource('nocloud', { seedUrl: `${server.url}/seed` });
    expect(result?.source).toBe(`nocloud:${server.url}/seed/`);
    expect(new TextDecoder().decode(result?.userData)).toBe('#cloud-config\nhostname: over-http\n');
    expect(result?.metadata.instanceId).toBe('iid-http');
  });

  test('meta-data alone gives empty user-data', async () => {
    const result = await readDatasource('nocloud', { seedUrl: `${server.url}/meta-only/` });
    expect(result?.userData.byteLength).toBe(0);
    expect(result?.metadata.instanceId).toBe('iid-meta-only');
  });

  test('named by ds=nocloud;s= on the kernel command line, from a file:// directory', async () => {
    const cmdlinePath = path.join(dir, 'cmdline');
    await fs.writeFile(cmdlinePath, `root=/dev/vda ds=nocloud;s=${pathToFileURL(dir).href}/\n`);
    const result = await readDatasource('nocloud', { cmdlinePath });
    expect(result?.metadata.instanceId).toBe('iid-file-url');
  });

  test('a seed URL with nothing there is not-found, naming the URL', async () => {
    await expect(readDatasource('nocloud', { seedUrl: `${server.url}/empty/`, retries: 0 })).rejects.toMatchObject({
      kind: 'not-found',
      message: expect.stringContaining(`${server.url}/empty/`),
    });
  });

  test('an unsupported scheme is refused', async () => {
    await expect(readDatasource('nocloud', { seedUrl: 'tftp://h/seed/' })).rejects.toMatchObject({ kind: 'invalid-input' });
  });
});
