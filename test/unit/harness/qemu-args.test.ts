import { expect, test } from 'vitest';
import { qemuArgs, shellQuote, type QemuSpec } from '../../harness/qemu-args.js';

const base: QemuSpec = { boot: { kind: 'bios' }, drives: [], memoryMiB: 1024, cpus: 1, machine: 'q35', cpu: 'max' };

/** The values following each occurrence of `flag`. */
function valuesOf(args: string[], flag: string): string[] {
  return args.flatMap((a, i) => (a === flag ? [args[i + 1]!] : []));
}

test('always TCG, no display, serial on stdio, no monitor', () => {
  const args = qemuArgs(base);
  expect(valuesOf(args, '-accel')).toEqual(['tcg']);
  expect(valuesOf(args, '-display')).toEqual(['none']);
  expect(valuesOf(args, '-serial')).toEqual(['stdio']);
  expect(valuesOf(args, '-monitor')).toEqual(['none']);
  expect(valuesOf(args, '-m')).toEqual(['1024']);
  expect(args).not.toContain('-no-reboot');
  expect(args).not.toContain('-enable-kvm');
});

test.each([
  {
    name: 'direct kernel',
    boot: { kind: 'direct', kernel: '/b/vmlinuz', initrd: '/b/initramfs.img', append: 'console=ttyS0 keel.slot=a' } as const,
    expected: ['-kernel', '/b/vmlinuz', '-initrd', '/b/initramfs.img', '-append', 'console=ttyS0 keel.slot=a'],
  },
  {
    name: 'uefi',
    boot: { kind: 'uefi', code: '/ovmf/CODE.fd', vars: '/w/VARS.fd' } as const,
    expected: ['-drive', 'if=pflash,format=raw,unit=0,readonly=on,file=/ovmf/CODE.fd', '-drive', 'if=pflash,format=raw,unit=1,file=/w/VARS.fd'],
  },
])('$name boot', ({ boot, expected }) => {
  const args = qemuArgs({ ...base, boot }).join('\u0000');
  expect(args).toContain(expected.join('\u0000'));
});

test('drives become virtio-blk devices with boot index, serial and read-only', () => {
  const args = qemuArgs({
    ...base,
    drives: [
      { file: '/w/disk0.qcow2', format: 'qcow2', bootIndex: 1 },
      { file: '/w/seed.img', format: 'raw', readOnly: true, serial: 'cidata' },
    ],
  });
  expect(valuesOf(args, '-drive')).toEqual(['file=/w/disk0.qcow2,format=qcow2,if=none,id=disk0', 'file=/w/seed.img,format=raw,if=none,id=disk1,readonly=on']);
  expect(valuesOf(args, '-device')).toContain('virtio-blk-pci,drive=disk0,bootindex=1');
  expect(valuesOf(args, '-device')).toContain('virtio-blk-pci,drive=disk1,serial=cidata');
});

test.each([
  {
    name: 'one sata disk on a new ahci controller',
    drives: [{ file: '/w/disk0.qcow2', format: 'qcow2', bus: 'ahci', bootIndex: 0 }] as const,
    devices: ['ahci,id=ahci', 'ide-hd,bus=ahci.0,drive=disk0,bootindex=0'],
  },
  {
    name: 'two sata disks share the controller, one port each; the seed stays virtio',
    drives: [
      { file: '/w/disk0.qcow2', format: 'qcow2', bus: 'ahci', serial: 'sys' },
      { file: '/w/disk1.qcow2', format: 'qcow2', bus: 'ahci' },
      { file: '/w/seed.img', format: 'raw', readOnly: true, serial: 'cidata' },
    ] as const,
    devices: ['ahci,id=ahci', 'ide-hd,bus=ahci.0,drive=disk0,serial=sys', 'ide-hd,bus=ahci.1,drive=disk1', 'virtio-blk-pci,drive=disk2,serial=cidata'],
  },
  {
    name: 'nvme gets the serial it must have, its own or disk<i>',
    drives: [
      { file: '/w/disk0.qcow2', format: 'qcow2', bus: 'nvme', bootIndex: 0 },
      { file: '/w/disk1.qcow2', format: 'qcow2', bus: 'nvme', serial: 'data1' },
    ] as const,
    devices: ['nvme,drive=disk0,serial=disk0,bootindex=0', 'nvme,drive=disk1,serial=data1'],
  },
  {
    name: 'a usb disk on a new xhci controller',
    drives: [{ file: '/w/disk0.qcow2', format: 'qcow2', bus: 'usb', bootIndex: 0 }] as const,
    devices: ['qemu-xhci,id=xhci', 'usb-storage,bus=xhci.0,drive=disk0,bootindex=0'],
  },
  {
    name: 'a sata disk and a cd drive share the ahci controller, one port each',
    drives: [
      { file: '/w/disk0.qcow2', format: 'qcow2', bus: 'ahci' },
      { file: '/w/seed.iso', format: 'raw', readOnly: true, bus: 'cdrom' },
    ] as const,
    devices: ['ahci,id=ahci', 'ide-hd,bus=ahci.0,drive=disk0', 'ide-cd,bus=ahci.1,drive=disk1'],
  },
  {
    name: 'virtio stays the default, with no controller added',
    drives: [{ file: '/w/disk0.qcow2', format: 'qcow2', bus: 'virtio' }] as const,
    devices: ['virtio-blk-pci,drive=disk0'],
  },
])('disk bus: $name', ({ drives, devices }) => {
  const args = qemuArgs({ ...base, drives: [...drives] });
  expect(valuesOf(args, '-device').filter((d) => d !== 'virtio-rng-pci')).toEqual(devices);
  expect(valuesOf(args, '-drive')).toEqual(drives.map((d, i) => `file=${d.file},format=${d.format},if=none,id=disk${i}${'readOnly' in d ? ',readonly=on' : ''}`));
});

test.each([
  { name: 'virtio by default', net: {}, device: 'virtio-net-pci,netdev=net0' },
  { name: 'e1000e booting first', net: { model: 'e1000e', bootIndex: 0 } as const, device: 'e1000e,netdev=net0,bootindex=0' },
  { name: 'no option rom', net: { model: 'virtio', romFile: '' } as const, device: 'virtio-net-pci,netdev=net0,romfile=' },
  { name: 'another option rom', net: { model: 'e1000e', romFile: '/r/efi-e1000e.rom' } as const, device: 'e1000e,netdev=net0,romfile=/r/efi-e1000e.rom' },
])('nic model: $name', ({ net, device }) => {
  const args = qemuArgs({ ...base, net });
  expect(valuesOf(args, '-device').filter((d) => d !== 'virtio-rng-pci')).toEqual([device]);
  expect(valuesOf(args, '-netdev')).toEqual(['user,id=net0']);
});

test.each([
  {
    name: 'ssh forward, restricted',
    net: { sshPort: 2222, restrict: true },
    netdev: 'user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:2222-:22',
  },
  {
    name: 'pxe with tftp and a guest forward',
    net: { tftpRoot: '/b/pxe', bootFile: 'boot.ipxe', guestForwards: [{ guestAddr: '10.0.2.100', guestPort: 80, hostPort: 8080 }], bootIndex: 2 },
    netdev: 'user,id=net0,guestfwd=tcp:10.0.2.100:80-tcp:127.0.0.1:8080,tftp=/b/pxe,bootfile=boot.ipxe',
  },
  {
    name: 'extra host forwards',
    net: { hostForwards: [{ hostPort: 9000, guestPort: 2379 }] },
    netdev: 'user,id=net0,hostfwd=tcp:127.0.0.1:9000-:2379',
  },
])('user-mode net: $name', ({ net, netdev }) => {
  const args = qemuArgs({ ...base, net });
  expect(valuesOf(args, '-netdev')).toEqual([netdev]);
  expect(valuesOf(args, '-device').find((d) => d.startsWith('virtio-net-pci'))).toMatch(/^virtio-net-pci,netdev=net0/);
});

test('no net spec means no network device at all', () => {
  expect(qemuArgs(base).join(' ')).not.toMatch(/netdev|virtio-net/);
});

test('noReboot, QMP socket and extra args', () => {
  const args = qemuArgs({ ...base, noReboot: true, qmpSocket: '/w/qmp.sock', extraArgs: ['-rtc', 'base=utc'] });
  expect(args).toContain('-no-reboot');
  expect(valuesOf(args, '-qmp')).toEqual(['unix:/w/qmp.sock,server=on,wait=off']);
  expect(args.slice(-2)).toEqual(['-rtc', 'base=utc']);
});

test.each([
  { argv: ['qemu', '-append', 'console=ttyS0 quiet'], out: "qemu -append 'console=ttyS0 quiet'" },
  { argv: ['echo', "it's"], out: "echo 'it'\\''s'" },
])('shellQuote $out', ({ argv, out }) => {
  expect(shellQuote(argv)).toBe(out);
});
