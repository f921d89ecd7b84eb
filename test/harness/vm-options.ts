/**
 * What a test VM is asked to be (boot path, disks, network, reboot handling), and where
 * the relative paths in it point: the repository root.
 */
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DiskBus, NicModel } from './qemu-args.js';
import type { SeedSpec } from './seed.js';
import type { SegmentNic } from './vm-segment.js';

/** The repository root: paths in VmOptions are relative to it. */
export const repoRoot = process.env.KEEL_REPO ?? fileURLToPath(new URL('../..', import.meta.url));

export const ovmfCode = '/usr/share/OVMF/OVMF_CODE.fd';
export const ovmfVarsTemplate = '/usr/share/OVMF/OVMF_VARS.fd';

/** How a test VM boots; paths default to the outputs of `make image`. */
export type VmBoot =
  | { kind: 'direct'; kernel?: string; initrd?: string; append: string }
  | { kind: 'uefi'; varsTemplate?: string }
  | { kind: 'bios' };

/** Where any disk sits and how the firmware and the guest see it (bus: default virtio). */
interface VmDiskPlace {
  bus?: DiskBus;
  bootIndex?: number;
  serial?: string;
}

/** A disk: an overlay on a built image (default), a blank disk, or a file used as it is. */
export type VmDisk =
  | ({ image: string; format?: 'raw' | 'qcow2'; sizeMiB?: number } & VmDiskPlace)
  | ({ blankMiB: number } & VmDiskPlace)
  | ({ file: string; format: 'raw' | 'qcow2'; readOnly?: boolean } & VmDiskPlace);

export interface VmNet {
  /** Forward a free 127.0.0.1 port to the guest's port 22 (default true). */
  ssh?: boolean;
  /** Guest ports to forward from free host ports; see `vm.hostPort(guestPort)`. */
  forwardGuestPorts?: number[];
  guestForwards?: { guestAddr: string; guestPort: number; hostPort: number }[];
  /** No way out of the guest except the forwards (default true unless tftp is used). */
  restrict?: boolean;
  tftpRoot?: string;
  bootFile?: string;
  bootIndex?: number;
  /** The network card (default virtio). */
  model?: NicModel;
  /** The card's option ROM file; '' for none (default: qemu's iPXE ROM for the model). */
  romFile?: string;
}

export type RebootMode = 'reset' | 'restart' | 'stop';

export interface VmOptions {
  /** The test's name: its logs go to build/test-logs/<name>/. */
  name: string;
  boot: VmBoot;
  disks?: VmDisk[];
  seed?: SeedSpec;
  net?: VmNet | false;
  /** A second NIC on a private L2 segment shared with the test's other guests (vm-segment.ts). */
  segment?: SegmentNic;
  memoryMiB?: number;
  cpus?: number;
  machine?: string;
  cpu?: string;
  /**
   * What a guest reboot (or `reset()`) does. `reset`: qemu resets in place (its default).
   * `restart`: qemu ends and the harness starts it again at once on the same disks and
   * firmware vars, a cold boot; OVMF under TCG can spin forever in its own code after a
   * warm reset (seen twice in the update e2e, each time at one of its eight reboots).
   * `stop`: qemu ends and the test calls `restart()`. Default: `restart` for UEFI boots,
   * `reset` for the others.
   */
  onReboot?: RebootMode;
  extraArgs?: string[];
  /** Copy the console to stderr as it comes (also with KEEL_VM_ECHO=1). */
  echo?: boolean;
}

/** `path` made absolute against the repository root. */
export function repoPath(path: string): string {
  return isAbsolute(path) ? path : resolve(repoRoot, path);
}

/** A test name made safe for a directory name. */
export function safeName(name: string): string {
  return name.replace(/[^\w.-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 80) || 'vm';
}
