/**
 * The files a test VM's qemu writes to, made in its work dir so a built image is never
 * modified: qcow2 overlays on built images, blank disks, the NoCloud seed, and a copy of
 * the UEFI vars (kept across restarts, so boot entries survive a cold boot).
 */
import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import type { BootSpec, DriveSpec } from './qemu-args.js';
import { makeSeed, type SeedSpec } from './seed.js';
import { ovmfCode, ovmfVarsTemplate, repoPath, type VmBoot, type VmDisk } from './vm-options.js';

/** The drives for `disks` (overlays and blank disks made now), then the seed if any. */
export async function prepareDrives(vmName: string, workDir: string, disks: VmDisk[], seed?: SeedSpec): Promise<DriveSpec[]> {
  const drives: DriveSpec[] = [];
  for (const [i, disk] of disks.entries()) drives.push(await prepareDisk(vmName, join(workDir, `disk${i}.qcow2`), disk));
  if (seed) {
    const file = await makeSeed(join(workDir, 'seed.img'), seed);
    drives.push({ file, format: 'raw', readOnly: true, serial: 'cidata', ...(seed.bus ? { bus: seed.bus } : {}) });
  }
  return drives;
}

async function prepareDisk(vmName: string, overlay: string, disk: VmDisk): Promise<DriveSpec> {
  const common = { bus: disk.bus, bootIndex: disk.bootIndex, serial: disk.serial };
  if ('image' in disk) {
    const base = repoPath(disk.image);
    if (!existsSync(base)) throw new Error(`vm ${vmName}: ${base} does not exist (run make image first)`);
    const size = disk.sizeMiB ? [`${disk.sizeMiB}M`] : [];
    await execa('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', base, '-F', disk.format ?? 'raw', overlay, ...size]);
    return { file: overlay, format: 'qcow2', ...common };
  }
  if ('blankMiB' in disk) {
    await execa('qemu-img', ['create', '-q', '-f', 'qcow2', overlay, `${disk.blankMiB}M`]);
    return { file: overlay, format: 'qcow2', ...common };
  }
  return { file: repoPath(disk.file), format: disk.format, readOnly: disk.readOnly, ...common };
}

/** qemu's boot description; UEFI gets the per-VM vars file, copied on first use. */
export function bootSpec(boot: VmBoot, workDir: string): BootSpec {
  if (boot.kind === 'direct') {
    return { kind: 'direct', kernel: repoPath(boot.kernel ?? 'build/vmlinuz'), initrd: repoPath(boot.initrd ?? 'build/initramfs.img'), append: boot.append };
  }
  if (boot.kind === 'uefi') {
    const vars = join(workDir, 'OVMF_VARS.fd');
    if (!existsSync(vars)) copyFileSync(boot.varsTemplate ?? ovmfVarsTemplate, vars);
    return { kind: 'uefi', code: ovmfCode, vars };
  }
  return { kind: 'bios' };
}
