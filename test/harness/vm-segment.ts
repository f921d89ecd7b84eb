/**
 * A private L2 segment for the guests of one test (keel's cluster tests): a second NIC on each
 * guest, joined by qemu's socket netdev on one multicast group bound to the loopback address.
 * Frames go from qemu to qemu through the host's loopback only (multicast interface and
 * membership on 127.0.0.1, TTL 1), so no packet of the segment reaches any other interface of
 * the test machine, and the guests' addresses on it exist only there. The user-mode NIC each
 * guest keeps (ssh and the forwards to test servers) is unchanged.
 *
 * Measured here: the loopback interface has no MULTICAST flag, yet sockets that join a group
 * on 127.0.0.1 and send with IP_MULTICAST_IF 127.0.0.1 receive each other's datagrams (node's
 * dgram, the same calls qemu's `mcast=…,localaddr=` makes).
 *
 * ```ts
 * const segment = newSegment();
 * const vms = await Promise.all([1, 2, 3].map((i) => startVm({ ..., segment: { segment, index: i } })));
 * // each guest's cloud-config: write_files: [{ path: '/etc/systemd/network/20-segment.network', content: segmentNetworkFile(segment, i) }]
 * ```
 * Pure but for `newSegment`'s random choice; nothing here starts a guest.
 */
import { randomBytes } from 'node:crypto';

/** One segment: a multicast group and port (the guests of one test share them) and its IPv4 /24. */
export interface VmSegment {
  /** An administratively scoped group, 239.255.0.0/16 (never routed beyond the site, and here not beyond lo). */
  group: string;
  port: number;
  /** The first three octets of the guests' addresses, e.g. `10.77.0`: guest `i` is `<subnet>.<10 + i>`. */
  subnet: string;
}

/** A guest's place on a segment: `index` 1..200 picks its MAC and address. */
export interface SegmentNic {
  segment: VmSegment;
  index: number;
}

/** A segment no other test is likely to share (random group and port); `bytes` replaces the randomness in tests. */
export function newSegment(bytes: Uint8Array = randomBytes(4), subnet = '10.77.0'): VmSegment {
  const [a = 0, b = 0, c = 0, d = 0] = bytes;
  return { group: `239.255.${a}.${Math.max(1, b)}`, port: 20_000 + (((c << 8) | d) % 40_000), subnet };
}

function checkIndex(index: number): void {
  if (!Number.isInteger(index) || index < 1 || index > 200) throw new Error(`segment index ${index}: expected a whole number from 1 to 200`);
}

/** The guest's MAC on the segment: locally administered, unique per group and index (qemu's default would be one MAC for all). */
export function segmentMac(nic: SegmentNic): string {
  checkIndex(nic.index);
  const [, , c = '0', d = '0'] = nic.segment.group.split('.');
  const hex = (n: number) => n.toString(16).padStart(2, '0');
  return ['52', '54', '01', hex(Number(c)), hex(Number(d)), hex(nic.index)].join(':');
}

/** The guest's address on the segment, without the prefix length. */
export function segmentAddress(nic: SegmentNic): string {
  checkIndex(nic.index);
  return `${nic.segment.subnet}.${10 + nic.index}`;
}

/** qemu arguments of the segment NIC (after the user-mode one, so that one stays the guest's first NIC). */
export function segmentArgs(nic: SegmentNic): string[] {
  const { group, port } = nic.segment;
  return ['-netdev', `socket,id=seg0,mcast=${group}:${port},localaddr=127.0.0.1`, '-device', `virtio-net-pci,netdev=seg0,mac=${segmentMac(nic)}`];
}

/** The systemd-networkd file a guest's cloud-config writes for its static address (matched by MAC: the NIC's name depends on its PCI slot). */
export function segmentNetworkFile(nic: SegmentNic): string {
  return ['[Match]', `MACAddress=${segmentMac(nic)}`, '', '[Network]', `Address=${segmentAddress(nic)}/24`, 'LinkLocalAddressing=no', 'IPv6AcceptRA=no', '', '[Link]', 'RequiredForOnline=yes', ''].join('\n');
}
