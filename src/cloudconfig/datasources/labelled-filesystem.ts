/**
 * The edge the disk datasources share: find block devices by filesystem label and read a
 * seed's files from one, in keel's own process. ISO 9660 and FAT images are read from the
 * device (`seed-image/`): no blkid or mount to start (0.1-0.3 s each of a first boot under
 * emulation, issue 16) and no kernel filesystem driver fed an image keel did not make.
 * Readers see a seed through `SeedFiles`, so a directory and a device look the same.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { KeelError } from '../../errors.js';
import { listBlockDevices, openBlockDevice, type OpenBlockDevice } from '../../host/block-device.js';
import type { ByteSource } from './seed-image/byte-source.js';
import { fatLabel, openFat } from './seed-image/fat.js';
import { iso9660Label, openIso9660 } from './seed-image/iso9660.js';

/** The block devices the disk datasources look at; tests pass image files. */
export interface BlockDevices {
  list(): Promise<string[]>;
  open(device: string): Promise<OpenBlockDevice>;
}

/** The host's: `/proc/partitions`, read through `/dev`. */
export const hostBlockDevices: BlockDevices = { list: () => listBlockDevices(), open: (device) => openBlockDevice(device) };

/**
 * Devices carrying one of `labels` on an ISO 9660 or FAT filesystem, in label order, without
 * duplicates. Every device is probed in keel's own process, so it works without udev; the
 * /dev/disk/by-label links are consulted too when udev made them. A device that cannot be
 * opened or read (an empty CD drive) is passed over.
 */
export async function findDevicesByLabel(labels: readonly string[], devices: BlockDevices = hostBlockDevices): Promise<string[]> {
  const listed = await devices.list().catch((error: Error) => {
    throw new KeelError('io', `cannot list the block devices to find a seed by label: ${error.message}`, { cause: error });
  });
  const probed: { device: string; label: string }[] = [];
  for (const device of listed) {
    const label = await deviceLabel(device, devices).catch(() => undefined);
    if (label) probed.push({ device, label });
  }
  const found: string[] = [];
  for (const label of labels) {
    for (const p of probed) if (p.label === label) found.push(p.device);
    const link = await fs.realpath(path.join('/dev/disk/by-label', label)).catch(() => undefined);
    if (link) found.push(link);
  }
  return [...new Set(found)];
}

/** The label of the ISO 9660 or FAT filesystem on `device`; undefined for any other content. */
async function deviceLabel(device: string, devices: BlockDevices): Promise<string | undefined> {
  const opened = await devices.open(device);
  try {
    return (await iso9660Label(opened, device)) ?? (await fatLabel(opened, device));
  } finally {
    await opened.close();
  }
}

/** Reads a seed's files by path relative to its root; undefined for a missing file. */
export interface SeedFiles {
  read(relativePath: string): Promise<Uint8Array | undefined>;
}

/** A seed laid out in a directory. */
export function dirSeedFiles(dir: string, maxBytes: number): SeedFiles {
  return { read: (relativePath) => readOptional(path.join(dir, relativePath), maxBytes) };
}

/**
 * Opens the seed filesystem on `device` (ISO 9660 or FAT) and runs `read` on its files; the
 * device is closed afterwards, whatever `read` did.
 */
export async function withSeedFilesystem<T>(device: string, maxBytes: number, read: (files: SeedFiles) => Promise<T>, devices: BlockDevices = hostBlockDevices): Promise<T> {
  const opened = await devices.open(device).catch((error: Error) => {
    throw new KeelError('io', `${device}: cannot open it to read a seed: ${error.message}; skipping this seed`, { cause: error });
  });
  try {
    const source: ByteSource = {
      size: opened.size,
      read: (offset, length) => opened.read(offset, length).catch((error: Error) => {
        throw new KeelError('io', `${device}: cannot read ${length} bytes at byte ${offset}: ${error.message}; skipping this seed`, { cause: error });
      }),
    };
    const files = (await openIso9660(source, device, maxBytes)) ?? (await openFat(source, device, maxBytes));
    if (!files) throw new KeelError('invalid-input', `${device}: neither an iso9660 nor a vfat filesystem; skipping this seed`);
    return await read(files);
  } finally {
    await opened.close().catch(() => undefined);
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
