/**
 * NoCloud seed disks: a small filesystem labelled `cidata` holding `user-data` and
 * `meta-data`, the way cloud-init's NoCloud (and keel's nocloud datasource) finds them.
 * iso9660 keeps the label lowercase; vfat labels are conventionally upper case (`CIDATA`).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import type { DiskBus } from './qemu-args.js';

export interface SeedSpec {
  userData: string;
  /** Defaults to an instance-id and local-hostname derived from `instanceId`. */
  metaData?: string;
  instanceId?: string;
  /** Extra files at the root of the seed (e.g. `network-config`). */
  files?: Record<string, string>;
  format?: 'iso' | 'vfat';
  label?: string;
  /** Where the VM carries it: default a virtio disk; `cdrom` a SATA CD drive (/dev/sr0), as libvirt and Proxmox do. */
  bus?: DiskBus;
}

/** The default meta-data document (pure). */
export function defaultMetaData(instanceId: string): string {
  return `instance-id: ${instanceId}\nlocal-hostname: ${instanceId}\n`;
}

/** Writes the seed image at `path` and returns it. */
export async function makeSeed(path: string, spec: SeedSpec): Promise<string> {
  const format = spec.format ?? 'iso';
  const files: Record<string, string> = {
    'user-data': spec.userData,
    'meta-data': spec.metaData ?? defaultMetaData(spec.instanceId ?? 'keel-test'),
    ...(spec.files ?? {}),
  };
  const dir = mkdtempSync(`${path}.files-`);
  try {
    for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
    const names = Object.keys(files).map((n) => join(dir, n));
    if (format === 'iso') {
      await execa('genisoimage', ['-quiet', '-output', path, '-volid', spec.label ?? 'cidata', '-joliet', '-rock', ...names]);
    } else {
      rmSync(path, { force: true });
      await execa('mkfs.vfat', ['-n', spec.label ?? 'CIDATA', '-C', path, '2048']);
      await execa('mcopy', ['-o', '-i', path, ...names, '::'], { env: { MTOOLS_SKIP_CHECK: '1' } });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return path;
}
