// The private segment of the cluster tests (test/harness/vm-segment.ts): the qemu arguments of
// each guest's second NIC, its MAC and address, and the networkd file its cloud-config writes.
import dgram from 'node:dgram';
import { expect, test } from 'vitest';
import { qemuArgs, type QemuSpec } from '../../harness/qemu-args.js';
import { newSegment, segmentAddress, segmentArgs, segmentMac, segmentNetworkFile, type VmSegment } from '../../harness/vm-segment.js';

const segment: VmSegment = { group: '239.255.7.9', port: 41_000, subnet: '10.77.0' };
const base: QemuSpec = { boot: { kind: 'bios' }, drives: [], memoryMiB: 384, cpus: 1, machine: 'q35', cpu: 'max', net: { sshPort: 2222, restrict: true } };

test('the segment NIC: socket netdev on the group, bound to loopback, with its own MAC', () => {
  expect(segmentArgs({ segment, index: 2 })).toEqual([
    '-netdev', 'socket,id=seg0,mcast=239.255.7.9:41000,localaddr=127.0.0.1',
    '-device', 'virtio-net-pci,netdev=seg0,mac=52:54:01:07:09:02',
  ]);
});

test('qemuArgs: the user-mode NIC stays first, the segment NIC follows; none without a segment', () => {
  const args = qemuArgs({ ...base, segment: { segment, index: 1 } });
  const netdevs = args.flatMap((a, i) => (a === '-netdev' ? [args[i + 1]!] : []));
  expect(netdevs).toEqual(['user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:2222-:22', 'socket,id=seg0,mcast=239.255.7.9:41000,localaddr=127.0.0.1']);
  expect(args.join(' ')).toContain('-device virtio-net-pci,netdev=net0 ');
  expect(args.join(' ')).toContain('-device virtio-net-pci,netdev=seg0,mac=52:54:01:07:09:01');
  expect(qemuArgs(base).join(' ')).not.toContain('seg0');
});

test('three guests of one segment: one group, three MACs, three addresses', () => {
  const nics = [1, 2, 3].map((index) => ({ segment, index }));
  expect(new Set(nics.map((n) => segmentArgs(n)[1])).size).toBe(1);
  expect(nics.map(segmentMac)).toEqual(['52:54:01:07:09:01', '52:54:01:07:09:02', '52:54:01:07:09:03']);
  expect(nics.map(segmentAddress)).toEqual(['10.77.0.11', '10.77.0.12', '10.77.0.13']);
});

test('two segments (two tests at once) differ in group and MACs', () => {
  const a = newSegment(Uint8Array.from([1, 2, 3, 4]));
  const b = newSegment(Uint8Array.from([5, 6, 7, 8]));
  expect(a).toEqual({ group: '239.255.1.2', port: 20_000 + 0x0304, subnet: '10.77.0' });
  expect(b.group).not.toBe(a.group);
  expect(segmentMac({ segment: a, index: 1 })).not.toBe(segmentMac({ segment: b, index: 1 }));
  // A zero byte would make x.y.z.0: the group's last octet is at least 1.
  expect(newSegment(Uint8Array.from([0, 0, 0, 0])).group).toBe('239.255.0.1');
});

test.each([0, 201, 1.5])('index %s is refused', (index) => {
  expect(() => segmentMac({ segment, index })).toThrow(/expected a whole number from 1 to 200/);
});

test("the guest's networkd file: matched by MAC, a static /24, waited for by network-online", () => {
  expect(segmentNetworkFile({ segment, index: 3 })).toBe(
    ['[Match]', 'MACAddress=52:54:01:07:09:03', '', '[Network]', 'Address=10.77.0.13/24', 'LinkLocalAddressing=no', 'IPv6AcceptRA=no', '', '[Link]', 'RequiredForOnline=yes', ''].join('\n'),
  );
});

test('multicast on the loopback address reaches every member socket (what qemu relies on)', async () => {
  const group = newSegment();
  const open = () =>
    new Promise<{ socket: dgram.Socket; got: Promise<string> }>((resolve) => {
      const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true });
      const got = new Promise<string>((r) => socket.once('message', (m) => r(String(m))));
      socket.bind(group.port, () => {
        socket.addMembership(group.group, '127.0.0.1');
        socket.setMulticastInterface('127.0.0.1');
        socket.setMulticastTTL(1);
        resolve({ socket, got });
      });
    });
  const [a, b] = [await open(), await open()];
  try {
    a.socket.send('frame', group.port, group.group);
    expect(await b.got).toBe('frame');
  } finally {
    a.socket.close();
    b.socket.close();
  }
});
