/**
 * Whether this network namespace has a usable IPv4 default route, from the kernel's own table
 * (`/proc/net/route`): what a command needs to reach the network, whoever configured it.
 * keel's first boot waits for this or for network-online.target, whichever comes first:
 * networkd holds the target until the IPv6 link-local address has passed duplicate address
 * detection, 1.6-1.8 s after the DHCPv4 lease under emulation (docs/boot.md).
 */
import { readFile } from 'node:fs/promises';

/** RTF_UP: the route is usable. */
const routeUp = 0x1;

/** The interface of an up route to 0.0.0.0/0 in this process's namespace (`/proc/net/route`), or undefined. */
export async function defaultIpv4Route(proc = '/proc'): Promise<string | undefined> {
  return parseDefaultIpv4Route(await readFile(`${proc}/net/route`, 'utf8').catch(() => ''));
}

/** The interface of the first up default route in a `/proc/net/route` table, or undefined (pure). */
export function parseDefaultIpv4Route(table: string): string | undefined {
  for (const line of table.split('\n').slice(1)) {
    const [iface, destination, , flags, , , , mask] = line.trim().split(/\s+/);
    if (iface && destination === '00000000' && mask === '00000000' && (Number.parseInt(flags ?? '0', 16) & routeUp) !== 0) return iface;
  }
  return undefined;
}
