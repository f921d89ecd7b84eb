// Discovery's pure part: keys and values (the etcd edge is tested in test/integration/containers).
import { describe, expect, test } from 'vitest';
import { endpointKey, endpointOf, parseEndpoint } from '../../../src/containers/discovery.js';
import { parseSpec } from '../../../src/containers/spec-schema.js';

describe('discovery entries', () => {
  const spec = parseSpec('name: web\nimage: i\nports: ["8080:80", "127.0.0.1:53:53/udp"]\n').spec!;
  test('key', () => expect(endpointKey('web', 'abc')).toBe('/keel/services/web/abc'));
  test('value round-trips', () => {
    const e = endpointOf(spec, 'abc', '10.0.0.5')!;
    expect(e).toEqual({ name: 'web', machineId: 'abc', address: '10.0.0.5', ports: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }, { hostPort: 53, containerPort: 53, protocol: 'udp', hostIp: '127.0.0.1' }] });
    expect(parseEndpoint(JSON.stringify(e))).toEqual(e);
  });
  test('no published ports, no announcement', () => expect(endpointOf(parseSpec('name: a\nimage: i\n').spec!, 'abc', 'x')).toBeUndefined());
  test.each(['not json', '{"name": 1}', '[]'])('%s is not an entry', (v) => expect(parseEndpoint(v)).toBeUndefined());
});
