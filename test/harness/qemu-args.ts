/**
 * The qemu command line of a test VM, built from a plain description (pure: no files are
 * touched, no ports are chosen here). qemu.ts prepares the files this names and runs it.
 */
import { segmentArgs, type SegmentNic } from './vm-segment.js';

/** How the VM boots. */
export type BootSpec =
  /** Direct kernel boot: the fast path for most tests. */
  | { kind: 'direct'; kernel: string; initrd?: string; append: string }
  /** UEFI with OVMF: code read-only, vars a per-VM copy (the real path, with systemd-boot). */
  | { kind: 'uefi'; code: string; vars: string }
  /** Legacy BIOS (SeaBIOS): used for network boot through qemu's iPXE ROM. */
  | { kind: 'bios' };

/**
 * The controller a disk hangs on: virtio-blk (/dev/vdX), a SATA disk on an AHCI controller
 * (/dev/sdX, as on most servers' onboard ports), an NVMe drive (/dev/nvmeXn1), a USB mass
 * storage disk on an xHCI controller (/dev/sdX: a USB stick, a BMC's virtual media) or a SATA
 * CD drive on the AHCI controller (/dev/srX: where hypervisors put a cloud-init ISO).
 */
export type DiskBus = 'virtio' | 'ahci' | 'nvme' | 'usb' | 'cdrom';

/** One disk as qemu sees it; `file` is what qemu opens (an overlay, never the built image). */
export interface DriveSpec {
  file: string;
  format: 'qcow2' | 'raw';
  readOnly?: boolean;
  /** Default virtio. */
  bus?: DiskBus;
  /** Firmware boot order (lower first); omitted = not a boot candidate by index. */
  bootIndex?: number;
  /**
   * Guest-visible serial number: /dev/disk/by-id/virtio-<serial> (virtio), ata-QEMU_HARDDISK_<serial>
   * (ahci), nvme-QEMU_NVMe_Ctrl_<serial> (nvme), usb-QEMU_QEMU_HARDDISK_<serial>-0:0 (usb). NVMe
   * needs one: disk<i> when omitted.
   */
  serial?: string;
}

/** The network card: virtio-net, or an Intel 82574L (e1000e), a NIC real servers carry. */
export type NicModel = 'virtio' | 'e1000e';

/** qemu user-mode networking: the only kind tests use. */
export interface UserNetSpec {
  /** Host port on 127.0.0.1 forwarded to the guest's sshd (22). */
  sshPort?: number;
  /** Extra host→guest forwards. */
  hostForwards?: { hostPort: number; guestPort: number }[];
  /** Guest→host forwards: the guest connects to guestAddr:guestPort, reaches 127.0.0.1:hostPort. */
  guestForwards?: { guestAddr: string; guestPort: number; hostPort: number }[];
  /** Isolate the guest from the host and the outside (hostfwd/guestfwd still work). */
  restrict?: boolean;
  /** Built-in TFTP root and DHCP boot file, for PXE. */
  tftpRoot?: string;
  bootFile?: string;
  /** Network card boot order (lower first); set to make the VM try PXE. */
  bootIndex?: number;
  /** Default virtio. */
  model?: NicModel;
  /**
   * The card's option ROM (qemu's romfile=): omitted = qemu's own (Debian's iPXE, which
   * gives both SeaBIOS and OVMF a network boot); '' = none.
   */
  romFile?: string;
}

export interface QemuSpec {
  boot: BootSpec;
  drives: DriveSpec[];
  net?: UserNetSpec;
  /** A second NIC on a private segment with other guests (vm-segment.ts). */
  segment?: SegmentNic;
  memoryMiB: number;
  cpus: number;
  machine: string;
  cpu: string;
  /** Make a guest reboot end qemu instead of resetting (the harness then restarts it). */
  noReboot?: boolean;
  /** QMP control socket path. */
  qmpSocket?: string;
  pidFile?: string;
  extraArgs?: string[];
}

/** The argument vector after `qemu-system-x86_64`. The serial console is qemu's stdout. */
export function qemuArgs(spec: QemuSpec): string[] {
  const args = [
    '-accel', 'tcg', // KVM does not work on these machines (DESIGN.md)
    '-machine', spec.machine,
    '-cpu', spec.cpu,
    '-m', String(spec.memoryMiB),
    '-smp', String(spec.cpus),
    '-nodefaults',
    '-display', 'none',
    '-monitor', 'none',
    '-serial', 'stdio',
    '-device', 'virtio-rng-pci', // early entropy: sshd key generation would otherwise wait
  ];
  if (spec.noReboot) args.push('-no-reboot');
  if (spec.qmpSocket) args.push('-qmp', `unix:${spec.qmpSocket},server=on,wait=off`);
  if (spec.pidFile) args.push('-pidfile', spec.pidFile);
  args.push(...bootArgs(spec.boot));
  // One AHCI controller (six ports) for all SATA disks, added only when one is asked for.
  const onAhci = (d: DriveSpec) => d.bus === 'ahci' || d.bus === 'cdrom';
  if (spec.drives.some(onAhci)) args.push('-device', 'ahci,id=ahci');
  if (spec.drives.some((d) => d.bus === 'usb')) args.push('-device', 'qemu-xhci,id=xhci');
  let ahciPort = 0;
  spec.drives.forEach((d, i) => args.push(...driveArgs(d, i, onAhci(d) ? ahciPort++ : 0)));
  if (spec.net) args.push(...netArgs(spec.net));
  if (spec.segment) args.push(...segmentArgs(spec.segment));
  args.push(...(spec.extraArgs ?? []));
  return args;
}

function bootArgs(boot: BootSpec): string[] {
  switch (boot.kind) {
    case 'direct':
      return ['-kernel', boot.kernel, ...(boot.initrd ? ['-initrd', boot.initrd] : []), '-append', boot.append];
    case 'uefi':
      return [
        '-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${boot.code}`,
        '-drive', `if=pflash,format=raw,unit=1,file=${boot.vars}`,
      ];
    case 'bios':
      return [];
  }
}

function driveArgs(d: DriveSpec, i: number, ahciPort: number): string[] {
  const id = `disk${i}`;
  const drive = [`file=${d.file}`, `format=${d.format}`, 'if=none', `id=${id}`, ...(d.readOnly ? ['readonly=on'] : [])];
  const serial = d.serial ?? (d.bus === 'nvme' ? id : undefined);
  const device = [
    ...diskDevice(d.bus ?? 'virtio', ahciPort),
    `drive=${id}`,
    ...(serial ? [`serial=${serial}`] : []),
    ...(d.bootIndex !== undefined ? [`bootindex=${d.bootIndex}`] : []),
  ];
  return ['-drive', drive.join(','), '-device', device.join(',')];
}

function diskDevice(bus: DiskBus, ahciPort: number): string[] {
  switch (bus) {
    case 'virtio':
      return ['virtio-blk-pci'];
    case 'ahci':
      return ['ide-hd', `bus=ahci.${ahciPort}`];
    case 'nvme':
      return ['nvme'];
    case 'usb':
      return ['usb-storage', 'bus=xhci.0'];
    case 'cdrom':
      return ['ide-cd', `bus=ahci.${ahciPort}`];
  }
}

function netArgs(net: UserNetSpec): string[] {
  const opts = ['user', 'id=net0'];
  if (net.restrict) opts.push('restrict=on');
  if (net.sshPort !== undefined) opts.push(`hostfwd=tcp:127.0.0.1:${net.sshPort}-:22`);
  for (const f of net.hostForwards ?? []) opts.push(`hostfwd=tcp:127.0.0.1:${f.hostPort}-:${f.guestPort}`);
  for (const f of net.guestForwards ?? []) opts.push(`guestfwd=tcp:${f.guestAddr}:${f.guestPort}-tcp:127.0.0.1:${f.hostPort}`);
  if (net.tftpRoot) opts.push(`tftp=${net.tftpRoot}`);
  if (net.bootFile) opts.push(`bootfile=${net.bootFile}`);
  const device = [
    net.model === 'e1000e' ? 'e1000e' : 'virtio-net-pci',
    'netdev=net0',
    ...(net.bootIndex !== undefined ? [`bootindex=${net.bootIndex}`] : []),
    ...(net.romFile !== undefined ? [`romfile=${net.romFile}`] : []),
  ];
  return ['-netdev', opts.join(','), '-device', device.join(',')];
}

/** Quotes an argument vector for a log line a person can paste into a shell. */
export function shellQuote(argv: string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}
