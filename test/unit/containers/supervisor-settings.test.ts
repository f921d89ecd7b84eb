// The supervisor's settings: supervisor.yaml, and the endpoints cloud-config writes to containers.conf.
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { defaultSettings, endpointsOfEnvFile, parseSettings, readSettings } from '../../../src/containers/supervisor-settings.js';

describe('supervisor settings', () => {
  test('defaults', () => expect(parseSettings('')).toEqual(defaultSettings));
  test('all fields', () =>
    expect(parseSettings('discovery: {endpoints: [http://a:2379], address: 10.0.0.5, ttl: 1m}\npodman: {path: /opt/podman, args: [--runtime, runc]}\n')).toEqual({
      discoveryEndpoints: ['http://a:2379'], discoveryAddress: '10.0.0.5', discoveryTtlSeconds: 60, podmanPath: '/opt/podman', podmanArgs: ['--runtime', 'runc'],
    }));
  test.each([
    ['discovery: {endpoints: http://a}', /discovery.endpoints: expected a list of strings/],
    ['discovery: {ttl: 1s}', /discovery.ttl: expected a duration from 2s to 24d/],
    // A lease kept alive every ttl/3 by a timer: past node's timer range it would fire every 1 ms.
    ['discovery: {ttl: 90d}', /discovery.ttl: expected a duration from 2s to 24d .*found "90d"/],
    ['podman: [', /supervisor.yaml: .*refusing to start/],
  ])('%s is refused', (text, message) => expect(() => parseSettings(text)).toThrow(message));
  test.each<[string, string[]]>([
    ['# generated\nDISCOVERY_ENDPOINTS=http://a:2379,http://b:2379\n', ['http://a:2379', 'http://b:2379']],
    ['DISCOVERY_ENDPOINTS="http://a:2379"\n', ['http://a:2379']],
    ['OTHER=1\n', []],
  ])('containers.conf %j', (text, endpoints) => expect(endpointsOfEnvFile(text)).toEqual(endpoints));
  test('containers.conf endpoints apply when supervisor.yaml names none', async () => {
    const root = await mkdtemp(join(tmpdir(), 'keel-settings-'));
    await mkdir(join(root, 'etc/keel'), { recursive: true });
    await writeFile(join(root, 'etc/keel/containers.conf'), 'DISCOVERY_ENDPOINTS=http://e:2379\n');
    expect((await readSettings(root)).discoveryEndpoints).toEqual(['http://e:2379']);
    await writeFile(join(root, 'etc/keel/supervisor.yaml'), 'discovery: {endpoints: [http://y:2379]}\n');
    expect((await readSettings(root)).discoveryEndpoints).toEqual(['http://y:2379']);
  });
});
