// The IPv4 default route as the kernel's /proc/net/route lists it (the real kernel's table is
// read in test/integration/default-route.test.ts).
import { describe, expect, test } from 'vitest';
import { parseDefaultIpv4Route } from '../../../src/host/default-route.js';

const header = 'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT';
const row = (iface: string, destination: string, flags: string, mask: string) => `${iface}\t${destination}\t0202000A\t${flags}\t0\t0\t1024\t${mask}\t0\t0\t0`;

describe('parseDefaultIpv4Route', () => {
  test.each([
    ['an empty table', [header], undefined],
    ['no file at all', [], undefined],
    ['only the link route', [header, row('enp0s4', '0002000A', '0001', '00FFFFFF')], undefined],
    ['a default route that is up', [header, row('enp0s4', '0002000A', '0001', '00FFFFFF'), row('enp0s4', '00000000', '0003', '00000000')], 'enp0s4'],
    ['a default route that is not up', [header, row('enp0s4', '00000000', '0002', '00000000')], undefined],
    ['a route to 0.0.0.0 with a mask (not a default)', [header, row('eth0', '00000000', '0001', '0000FFFF')], undefined],
    ['the first of two', [header, row('eth1', '00000000', '0003', '00000000'), row('eth0', '00000000', '0003', '00000000')], 'eth1'],
  ])('%s', (_, lines, expected) => {
    expect(parseDefaultIpv4Route(lines.join('\n'))).toBe(expected);
  });
});
