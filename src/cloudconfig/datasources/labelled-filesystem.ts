/**
 * The edge the disk datasources share: find block devices by filesystem label, mount one
 * read-only (vfat or iso9660, nosuid/nodev/noexec) under a private temp dir, read, and
 * always unmount and remove the dir, whatever the reader did.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { KeelError } from '../../errors.js';

/**
 * Devices carrying one of `labels`, in label order, without duplicates. blkid probes the
 * devices itself (`-c /dev/null`: no stale cache), so it works without udev; the
 * /dev/disk/by-label links are consulted too when udev made them.
 */
export async function findDevicesByLabel(labels: readonly string[]): Promise<string[]> {
  const found: string[] = [];
  for (const label of labels) {
    const probe = await execa('blkid', ['-c', '/dev/null', '-t', `LABEL=${label}`, '-o', 'device'], { reject: false });
    // blkid exits 2 when no device matches: not an error, just no such seed.
    if (probe.exitCode !== 0 && probe.exitCode !== 2) {
      throw new KeelError('io', `blkid could not look for label ${label}: ${String(probe.stderr).trim() || `exit ${probe.exitCode}`}`);
    }
    for (const line of String(probe.stdout).split('\n')) if (line.trim()) found.push(line.trim());
    const link = await fs.realpath(path.join('/dev/disk/by-label', label)).catch(() => undefined);
    if (link) found.push(link);
  }
  return [...new Set(found)];
}

/** Mounts `device` read-only in a fresh temp dir, runs `read(dir)`, then unmounts and cleans up. */
export async function withMountedReadOnly<T>(device: string, read: (dir: string) => Promise<T>): Promise<T> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'keel-seed-'));
  try {
    const mounted = await execa('mount', ['-t', 'vfat,iso9660', '-o', 'ro,nosuid,nodev,noexec', device, dir], { reject: false, all: true });
    if (mounted.exitCode !== 0) {
      throw new KeelError('io', `${device}: cannot mount it read-only as vfat or iso9660: ${String(mounted.all).trim()}; skipping this seed`);
    }
    try {
      return await read(dir);
    } finally {
      await execa('umount', [dir], { reject: false });
    }
  } finally {
    await fs.rmdir(dir).catch(() => {});
  }
}

/** Reads a file that may be missing (undefined) and must not exceed `maxBytes`. */
export async function readOptional(file: string, maxBytes: number): Promise<Uint8Array | undefined> {
  const stat = await fs.stat(file).catch(() => undefined);
  if (!stat?.isFile()) return undefined;
  if (stat.size > maxBytes) {
    throw new KeelError('invalid-input', `${file}: ${stat.size} bytes, more than the ${maxBytes} allowed; refusing it`);
  }
  return new Uint8Array(await fs.readFile(file));
}
