// The kernel's own routing table read by keel's default-route edge: a network namespace the
// test makes, without and then with an IPv4 default route on a veth link.
import { execa } from 'execa';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { parseDefaultIpv4Route } from '../../src/host/default-route.js';

const ns = `keel-route-${process.pid}`;
const inNs = (...argv: string[]) => execa('ip', ['netns', 'exec', ns, ...argv]);
const table = async () => (await inNs('cat', '/proc/net/route')).stdout;

beforeAll(async () => {
  await execa('ip', ['netns', 'add', ns]);
});
afterAll(async () => {
  await execa('ip', ['netns', 'delete', ns], { reject: false });
});

test("no default route until one is added; then its link's name; none once the link is down", async () => {
  await inNs('ip', 'link', 'add', 'keel0', 'type', 'veth', 'peer', 'name', 'keel1');
  await inNs('ip', 'addr', 'add', '10.77.0.2/24', 'dev', 'keel0');
  await inNs('ip', 'link', 'set', 'keel1', 'up');
  await inNs('ip', 'link', 'set', 'keel0', 'up');
  expect(parseDefaultIpv4Route(await table())).toBeUndefined();
  await inNs('ip', 'route', 'add', 'default', 'via', '10.77.0.1', 'dev', 'keel0');
  expect(parseDefaultIpv4Route(await table())).toBe('keel0');
  await inNs('ip', 'link', 'set', 'keel0', 'down');
  expect(parseDefaultIpv4Route(await table())).toBeUndefined();
});
