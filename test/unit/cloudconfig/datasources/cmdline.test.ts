import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { configUrlFromCmdline, splitCmdline } from '../../../../src/cloudconfig/datasources/cmdline.js';
import { readDatasource } from '../../../../src/cloudconfig/datasources/index.js';
import { KeelError } from '../../../../src/errors.js';
import { deadUrl, serve, type TestServer } from './http-server.js';

describe('kernel command line parsing', () => {
  test.each([
    ['no url', 'BOOT_IMAGE=/vmlinuz root=/dev/vda ro quiet', undefined],
    ['coreos name', 'root=/dev/vda cloud-config-url=http://10.0.0.1/cc.yaml quiet', 'http://10.0.0.1/cc.yaml'],
    ['keel name', 'keel.config-url=https://cfg.example/u keel.slot=a', 'https://cfg.example/u'],
    ['last one wins', 'cloud-config-url=http://a/1 keel.config-url=http://b/2', 'http://b/2'],
    ['quoted', 'console=ttyS0 "cloud-config-url=http://h/a b" x', 'http://h/a b'],
    ['empty value ignored', 'cloud-config-url= root=/dev/vda', undefined],
    ['prefix is not a match', 'xcloud-config-url=http://no', undefined],
    ['url with = inside', 'cloud-config-url=http://h/cc?a=1&b=2', 'http://h/cc?a=1&b=2'],
  ])('%s', (_, cmdline, expected) => {
    expect(configUrlFromCmdline(cmdline)).toBe(expected);
  });

  test('splits on whitespace, keeping quoted words together', () => {
    expect(splitCmdline(' a  b="c d" e\n')).toEqual(['a', 'b=c d', 'e']);
  });
});

describe('cmdline datasource', () => {
  let server: TestServer;
  let dir: string;
  beforeAll(async () => {
    server = await serve({
      '/cc.yaml': '#cloud-config\nhostname: from-cmdline\n',
      '/flaky': (hits) => (hits < 3 ? { status: 503 } : { status: 200, body: '#cloud-config\n' }),
      '/broken': { status: 500 },
    });
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'keel-cmdline-test-'));
  });
  afterAll(async () => {
    await server.close();
    await fs.rm(dir, { recursive: true, force: true });
  });
  const withCmdline = async (text: string) => {
    const file = path.join(dir, `cmdline-${Math.random()}`);
    await fs.writeFile(file, text);
    return file;
  };

  test('fetches the URL over HTTP', async () => {
    const cmdlinePath = await withCmdline(`root=/dev/vda cloud-config-url=${server.url}/cc.yaml\n`);
    const result = await readDatasource('cmdline', { cmdlinePath });
    expect(result?.source).toBe(`cmdline:${server.url}/cc.yaml`);
    expect(new TextDecoder().decode(result?.userData)).toBe('#cloud-config\nhostname: from-cmdline\n');
    expect(result?.metadata).toEqual({ sshPublicKeys: [] });
  });

  test('retries a failing server and then succeeds', async () => {
    const cmdlinePath = await withCmdline(`keel.config-url=${server.url}/flaky`);
    const result = await readDatasource('cmdline', { cmdlinePath, retries: 3 });
    expect(result?.userData.byteLength).toBeGreaterThan(0);
    expect(server.hits.get('/flaky')).toBe(3);
  });

  test.each([
    ['a 500 after the retries', '/broken', 'unavailable', /HTTP 500 after 2 attempts/],
    ['a 404', '/missing', 'not-found', /HTTP 404/],
  ])('%s is an error naming the URL', async (_, route, kind, message) => {
    const cmdlinePath = await withCmdline(`cloud-config-url=${server.url}${route}`);
    const error = await readDatasource('cmdline', { cmdlinePath, retries: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeelError);
    expect((error as KeelError).kind).toBe(kind);
    expect((error as KeelError).message).toMatch(message);
    expect((error as KeelError).message).toContain(`${server.url}${route}`);
  });

  test('an unreachable server is unavailable', async () => {
    const cmdlinePath = await withCmdline(`cloud-config-url=${await deadUrl()}/x`);
    await expect(readDatasource('cmdline', { cmdlinePath, retries: 0 })).rejects.toMatchObject({ kind: 'unavailable' });
  });

  test('reads a file:// URL', async () => {
    const file = path.join(dir, 'local.yaml');
    await fs.writeFile(file, '#cloud-config\n');
    const result = await readDatasource('cmdline', { cmdlinePath: await withCmdline(`cloud-config-url=file://${file}`) });
    expect(result?.source).toBe(`cmdline:file://${file}`);
  });

  test('a missing file:// target is not-found', async () => {
    const cmdlinePath = await withCmdline(`cloud-config-url=file://${dir}/nope`);
    await expect(readDatasource('cmdline', { cmdlinePath })).rejects.toMatchObject({ kind: 'not-found' });
  });

  test('an unsupported scheme is refused', async () => {
    const cmdlinePath = await withCmdline('cloud-config-url=ftp://h/x');
    await expect(readDatasource('cmdline', { cmdlinePath })).rejects.toMatchObject({ kind: 'invalid-input' });
  });

  test('no URL on the command line, or no command line, is no datasource', async () => {
    expect(await readDatasource('cmdline', { cmdlinePath: await withCmdline('root=/dev/vda') })).toBeUndefined();
    expect(await readDatasource('cmdline', { cmdlinePath: path.join(dir, 'absent') })).toBeUndefined();
  });
});
