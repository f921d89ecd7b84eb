/**
 * The edge the disk datasources share: find block devices by filesystem label, mount one
 * read-only (vfat or iso9660, nosuid/nodev/noexec) under a private temp dir, read, and
 * always unmount and remove the dir, whatever the reader did. Readers see a seed through
 * `SeedFiles`, so a directory, a mounted device and a user-space reader look the same.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { KeelError } from '../../errors.js';
import { runCommand, type RunCommand } from '../../host/process.js';
import { runCommandBytes, type BytesCommandResult, type RunCommandBytes } from '../../host/process-bytes.js';

/** The programs the disk datasources run (blkid, mount, mtools, isoinfo), through the host's process edge; unit tests pass fakes. */
export interface SeedCommands {
  run: RunCommand;
  runBytes: RunCommandBytes;
}

/** The real programs. */
export const hostSeedCommands: SeedCommands = { run: runCommand, runBytes: runCommandBytes };

/**
 * Devices carrying one of `labels`, in label order, without duplicates. blkid probes the
 * devices itself (`-c /dev/null`: no stale cache), so it works without udev; the
 * /dev/disk/by-label links are consulted too when udev made them.
 */
export async function findDevicesByLabel(labels: readonly string[], commands: SeedCommands = hostSeedCommands): Promise<string[]> {
  const filesystems = await probeFilesystems(commands);
  const found: string[] = [];
  for (const label of labels) {
    for (const probed of filesystems) if (probed.label === label) found.push(probed.device);
    const link = await fs.realpath(path.join('/dev/disk/by-label', label)).catch(() => undefined);
    if (link) found.push(link);
  }
  return [...new Set(found)];
}

/** A block device's filesystem label as blkid saw it. */
interface ProbedFilesystem {
  device: string;
  label?: string;
}

/**
 * The probe running now, per command set. Detection polls config-drive and NoCloud at once
 * (and again every 100 ms, doubling); under one emulated CPU each program keel starts costs
 * 0.1-0.3 s of a first boot (issue 16), so callers asking while a probe runs share it rather
 * than each starting a blkid per label. A probe that has ended is never reused: a device may
 * change under the same name (a loop device attached again, a seed disk swapped).
 */
const running = new WeakMap<SeedCommands, Promise<ProbedFilesystem[]>>();

/** Every block device's label, from one blkid run shared by callers that ask while it runs. */
async function probeFilesystems(commands: SeedCommands): Promise<ProbedFilesystem[]> {
  const shared = running.get(commands);
  if (shared) return shared;
  const probe = runProbe(commands);
  running.set(commands, probe);
  const settled = () => running.get(commands) === probe && running.delete(commands);
  probe.then(settled, settled);
  return probe;
}

async function runProbe(commands: SeedCommands): Promise<ProbedFilesystem[]> {
  const probe = await commands.run('blkid', ['-c', '/dev/null', '-o', 'export']);
  // blkid exits 2 when it finds no filesystem at all: not an error, just no seed.
  if (probe.exitCode !== 0 && probe.exitCode !== 2) {
    throw new KeelError('io', `blkid could not list the filesystems' labels: ${probe.stderr.trim() || `exit ${probe.exitCode}`}`);
  }
  return parseBlkidExport(probe.stdout);
}

/** `blkid -o export`: one KEY=value per line, a blank line between devices (values escape spaces with `\`). */
export function parseBlkidExport(text: string): ProbedFilesystem[] {
  const found: ProbedFilesystem[] = [];
  for (const block of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    for (const line of block.split('\n')) {
      const at = line.indexOf('=');
      if (at > 0) fields.set(line.slice(0, at).trim(), line.slice(at + 1).trim().replace(/\\(.)/g, '$1'));
    }
    const device = fields.get('DEVNAME');
    if (device) found.push({ device, label: fields.get('LABEL') });
  }
  return found;
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
 * Opens the seed filesystem on `device` and runs `read` on its files. Normally the kernel
 * mounts it read-only in a fresh temp dir, unmounted and removed afterwards. A kernel
 * without vfat or iso9660 (some minimal and VM kernels) gets the files read in user space
 * instead, with mtools or isoinfo, so the seed is still found.
 */
export async function withSeedFilesystem<T>(device: string, maxBytes: number, read: (files: SeedFiles) => Promise<T>, commands: SeedCommands = hostSeedCommands): Promise<T> {
  const type = (await commands.run('blkid', ['-c', '/dev/null', '-o', 'value', '-s', 'TYPE', device])).stdout.trim();
  if (type !== 'vfat' && type !== 'iso9660') {
    throw new KeelError('invalid-input', `${device}: filesystem '${type || 'unknown'}', expected vfat or iso9660; skipping this seed`);
  }
  if (await kernelSupports(type)) return withMountedReadOnly(device, (dir) => read(dirSeedFiles(dir, maxBytes)), commands);
  return read(await userSpaceSeedFiles(type, device, maxBytes, commands));
}

/** A vfat or iso9660 seed's files read in user space (mtools, isoinfo), for kernels without the driver. */
export async function userSpaceSeedFiles(type: 'vfat' | 'iso9660', device: string, maxBytes: number, commands: SeedCommands = hostSeedCommands): Promise<SeedFiles> {
  return type === 'vfat' ? mtoolsSeedFiles(device, maxBytes, commands) : isoinfoSeedFiles(device, maxBytes, commands);
}

async function kernelSupports(type: string): Promise<boolean> {
  const listed = await fs.readFile('/proc/filesystems', 'utf8').catch(() => '');
  return listed.split('\n').some((line) => line.trim().split(/\s+/).pop() === type);
}

/** Mounts `device` read-only in a fresh temp dir, runs `read(dir)`, then unmounts and cleans up. */
export async function withMountedReadOnly<T>(device: string, read: (dir: string) => Promise<T>, commands: SeedCommands = hostSeedCommands): Promise<T> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'keel-seed-'));
  try {
    const mounted = await commands.run('mount', ['-t', 'vfat,iso9660', '-o', 'ro,nosuid,nodev,noexec', device, dir]);
    if (mounted.exitCode !== 0) {
      throw new KeelError('io', `${device}: cannot mount it read-only as vfat or iso9660: ${(mounted.stderr + mounted.stdout).trim()}; skipping this seed`);
    }
    try {
      return await read(dir);
    } finally {
      // Best effort, as before: a failed unmount must not hide what read() returned or threw.
      await commands.run('umount', [dir]).catch(() => undefined);
    }
  } finally {
    await fs.rmdir(dir).catch(() => {});
  }
}

/** vfat files read with mtools' mcopy, which needs no kernel driver. */
function mtoolsSeedFiles(device: string, maxBytes: number, commands: SeedCommands): SeedFiles {
  return {
    async read(relativePath) {
      const out = await commands.runBytes('mcopy', ['-n', '-i', device, `::${relativePath}`, '-'], { maxOutputBytes: maxBytes, env: { MTOOLS_SKIP_CHECK: '1' } });
      checkLimit(out, `${device}:${relativePath}`, maxBytes);
      if (out.exitCode !== 0) {
        if (/not found|no such file/i.test(out.stderr)) return undefined;
        throw new KeelError('io', `${device}: mcopy could not read ${relativePath}: ${out.stderr.trim()}`);
      }
      return out.stdout;
    },
  };
}

/** iso9660 files read with isoinfo (Rock Ridge names, else Joliet), no kernel driver needed. */
async function isoinfoSeedFiles(device: string, maxBytes: number, commands: SeedCommands): Promise<SeedFiles> {
  let names: string[] = [];
  let flag = '';
  for (const candidate of ['-R', '-J']) {
    const listing = await commands.run('isoinfo', ['-i', device, candidate, '-f']);
    names = listing.stdout.split('\n').map((l) => l.trim()).filter(Boolean);
    flag = candidate;
    if (listing.exitCode === 0 && names.length > 0) break;
  }
  return {
    async read(relativePath) {
      const wanted = `/${relativePath.replace(/^\/+/, '')}`;
      if (!names.includes(wanted)) return undefined;
      const out = await commands.runBytes('isoinfo', ['-i', device, flag, '-x', wanted], { maxOutputBytes: maxBytes });
      checkLimit(out, `${device}:${relativePath}`, maxBytes);
      if (out.exitCode !== 0) throw new KeelError('io', `${device}: isoinfo could not read ${relativePath}: ${out.stderr.trim() || `exit ${out.exitCode}`}`);
      return out.stdout;
    },
  };
}

/** A file read out of a seed image must not pass the user-data limit. */
function checkLimit(out: BytesCommandResult, where: string, maxBytes: number): void {
  if (out.overLimit) throw new KeelError('invalid-input', `${where}: more than the ${maxBytes} bytes allowed; refusing it`);
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
