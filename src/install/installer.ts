/**
 * `keel install`: checks everything before touching the disk (manifest, cloud-config,
 * target free and large enough, a local image's SHA-256), then streams the image onto the
 * target, moves the GPT backup header to the target's end and places the cloud-config as a
 * NoCloud seed partition. A streamed (URL) image that fails verification after the write
 * has its partition tables wiped, so a half-good disk never boots. `--device auto` picks the
 * disk by the rule in disk-choice.ts; old signatures are wiped (wipefs -a) before the write.
 */
import { existsSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { validateCloudConfig } from '../cloudconfig/validate.js';
import { KeelError } from '../errors.js';
import type { Logger } from '../log.js';
import type { RunCommand } from '../host/process.js';
import { formatProblem, hasErrors } from '../problem.js';
import { resolveAutoDevice } from './auto-device.js';
import { findDeviceUsers, type TargetDevice } from './device-users.js';
import type { DiskFacts } from './disk-choice.js';
import { addSeedPartition, fixBackupHeader, readGpt, verifyGpt } from './gpt.js';
import { isGzipped, manifestCandidates, parseDiskManifest, type DiskManifest } from './manifest.js';
import type { ProgressState } from './progress.js';
import { buildSeedImage, installInstanceId, maxUserDataBytes, seedMetaData } from './seed-partition.js';
import { isUrl, openSource, readSmall } from './source.js';
import { inspectTarget } from './target-device.js';
import { hashStream, writeStream, type WriteResult } from './write-image.js';

export interface InstallOptions {
  /** A block device or file, or 'auto' (disk-choice.ts). */
  device: string;
  image: string;
  /** Defaults to `<image>.json` (then `<image>.manifest.json`). */
  manifest?: string;
  cloudConfig?: string;
}

/** The edges and inputs the installer needs besides its options. */
export interface InstallEnv {
  log: Logger;
  /** Called as the image is checked and written; `phase` says which. */
  progress(phase: 'verify' | 'write', p: ProgressState): void;
  now(): number;
  randomBytes(n: number): Uint8Array;
  readMountinfo(): string;
  readSwaps(): string;
  /** The process edge: wipefs, sgdisk, blkdiscard, blockdev, mkfs.vfat and mcopy run through it. */
  run: RunCommand;
  /** For --device auto: the kernel command line and the facts of every disk (disk-facts.ts). */
  cmdline?(): string;
  diskFacts?(): Promise<DiskFacts[]>;
}

export interface InstallReport {
  device: string;
  /** How --device auto chose it. */
  deviceRule?: 'named' | 'only-blank-disk';
  deviceBytes: number;
  image: string;
  version: string;
  bytes: number;
  sha256: string;
  writeMs: number;
  /** Zero bytes of the image not written because the range was zeroed first. */
  skippedZeroBytes: number;
  totalMs: number;
  /** Sector of the backup GPT header after the fix (the device's last sector). */
  backupHeaderSector: number;
  cloudConfig?: { source: string; bytes: number; partition: number; label: string; instanceId: string };
}

async function loadManifest(opts: InstallOptions, log: Logger): Promise<{ manifest: DiskManifest; source: string }> {
  const candidates = opts.manifest ? [opts.manifest] : manifestCandidates(opts.image);
  for (const source of candidates) {
    let text: Buffer;
    try {
      text = await readSmall(source, 1 << 20);
    } catch (error) {
      if (error instanceof KeelError && error.kind === 'not-found' && !opts.manifest) continue;
      throw error;
    }
    log.info(`manifest: ${source}`);
    return { manifest: parseDiskManifest(text.toString('utf8'), source), source };
  }
  throw new KeelError('not-found', `no manifest beside ${opts.image} (tried ${candidates.join(', ')}); cannot verify the image, refusing to install`);
}

/** Reads the cloud-config and refuses one with errors, before anything is written. */
async function loadCloudConfig(ref: string, log: Logger): Promise<Buffer> {
  const data = await readSmall(ref, maxUserDataBytes);
  const gzipped = data[0] === 0x1f && data[1] === 0x8b;
  const text = gzipped ? '' : data.toString('utf8');
  if (!gzipped && !/^#cloud-config\b/.test(text) && !text.startsWith('#!'))
    throw new KeelError('invalid-input', `${ref}: expected a '#cloud-config' document or a '#!' script, found '${text.split('\n')[0]?.slice(0, 40)}'; nothing written`);
  if (text.startsWith('#cloud-config')) {
    let result;
    try {
      result = validateCloudConfig(text);
    } catch (error) {
      // The validator may not be available in every build; the host validates again on boot.
      log.warning(`cloud-config ${ref}: not validated here (${(error as Error).message}); first boot will validate it`);
    }
    if (result) {
      for (const p of result.problems) log.warning(formatProblem(ref, p));
      if (hasErrors(result.problems)) throw new KeelError('invalid-input', `${ref}: the cloud-config has errors (listed above); nothing written`);
    }
  }
  return data;
}

function checkTarget(target: TargetDevice, manifest: DiskManifest, env: InstallEnv): void {
  if (target.partitionOf) throw new KeelError('invalid-input', `${target.path} is a partition of ${target.partitionOf}; give the whole disk; nothing written`);
  if (target.readOnly) throw new KeelError('invalid-input', `${target.path} is read-only; nothing written`);
  const users = findDeviceUsers(target, env.readMountinfo(), env.readSwaps());
  if (users.length) throw new KeelError('conflict', `${target.path} is in use: ${users.join('; ')}; refusing to overwrite it`);
  if (target.sizeBytes < manifest.size)
    throw new KeelError('invalid-input', `${target.path} has ${target.sizeBytes} bytes, the image needs ${manifest.size}; refusing to install on a too-small device`);
}

/** Zeroes both GPT copies and the protective MBR so a failed write leaves no bootable table. */
async function wipeTables(fh: FileHandle, imageBytes: number, deviceBytes: number): Promise<void> {
  const zeros = Buffer.alloc(1 << 20);
  for (const at of [0, Math.max(0, imageBytes - zeros.length), Math.max(0, deviceBytes - zeros.length)]) await fh.write(zeros, 0, zeros.length, at);
  await fh.sync();
}

/**
 * The image as a stream of its raw bytes: a `.gz` reference is inflated on the way (most
 * of an image is empty space: the transfer shrinks about tenfold), and then its size is
 * only known once streamed.
 */
async function openImage(ref: string): Promise<{ stream: Readable; size?: number }> {
  const src = await openSource(ref);
  if (!isGzipped(ref)) return src;
  const gunzip = createGunzip({ chunkSize: 1 << 20 });
  src.stream.on('error', (error) => gunzip.destroy(error));
  gunzip.on('error', () => src.stream.destroy());
  return { stream: src.stream.pipe(gunzip) };
}

/**
 * Erases every filesystem, RAID and partition-table signature on the disk and its partitions
 * (wipefs -a), so nothing of the old contents is found again beyond the image's end (an md
 * superblock or a backup GPT at the old disk's end) or by a tool that probes partitions.
 */
async function wipeSignatures(env: InstallEnv, target: TargetDevice): Promise<void> {
  const parts = target.names.slice(1).map((n) => `/dev/${n}`).filter((p) => existsSync(p));
  const r = await env.run('wipefs', ['-a', ...parts, target.path]).catch((error: unknown) => ({ exitCode: -1, stdout: '', stderr: (error as Error).message }));
  if (r.exitCode !== 0) throw new KeelError('io', `wipefs -a ${target.path}: ${r.stderr.trim() || `exit ${r.exitCode}`}; nothing written`);
  const erased = r.stdout.split('\n').filter((l) => l.trim()).length;
  env.log.info(`old signatures wiped from ${target.path}${parts.length ? ` and ${parts.length} partitions` : ''}: ${erased ? `${erased} erased` : 'none found'}`);
}

/** Zeroes the first `bytes` of a block device with blkdiscard -z; false if it cannot. */
async function zeroRange(env: InstallEnv, device: string, bytes: number): Promise<boolean> {
  const r = await env.run('blkdiscard', ['-z', '-o', '0', '-l', String(bytes), device]).catch((error: unknown) => ({ exitCode: -1, stderr: (error as Error).message }));
  if (r.exitCode !== 0) env.log.info(`blkdiscard -z ${device}: ${r.stderr.trim() || `exit ${r.exitCode}`}; writing every block`);
  return r.exitCode === 0;
}

/** A local image is checked before the disk is touched (a URL can only be checked as it streams). */
async function verifyLocalImage(image: string, manifest: DiskManifest, env: InstallEnv): Promise<void> {
  const src = await openImage(image);
  if (src.size !== undefined && src.size !== manifest.size) throw new KeelError('verification', `${image} is ${src.size} bytes, its manifest says ${manifest.size}; refusing to install`);
  const v0 = env.now();
  const local = await hashStream(src.stream, (bytes) => env.progress('verify', { bytes, total: manifest.size, elapsedMs: env.now() - v0 })).catch((error: unknown) => {
    throw error instanceof KeelError ? error : new KeelError('verification', `${image}: ${(error as Error).message}; refusing to install`, { cause: error });
  });
  if (local.bytes !== manifest.size) throw new KeelError('verification', `${image} holds ${local.bytes} bytes, its manifest says ${manifest.size}; refusing to install`);
  if (local.sha256 !== manifest.sha256) throw new KeelError('verification', `${image} has SHA-256 ${local.sha256}, its manifest says ${manifest.sha256}; refusing to install`);
  env.log.info(`image verified: sha256 ${local.sha256}`);
}

/** Streams the image onto the target and checks it against the manifest; a mismatch wipes the tables. */
async function writeImage(image: string, manifest: DiskManifest, target: TargetDevice, env: InstallEnv): Promise<{ written: WriteResult; writeMs: number }> {
  const src = await openImage(image);
  if (src.size !== undefined && src.size !== manifest.size)
    throw new KeelError('verification', `${image} is ${src.size} bytes, its manifest says ${manifest.size}; refusing to install`);
  if (target.kind === 'block') await wipeSignatures(env, target);
  // Zeroing the range first (cheap where the disk supports write-zeroes or discard) lets
  // the write skip the image's empty blocks; without it every byte is written.
  const zeroed = target.kind === 'block' && (await zeroRange(env, target.path, manifest.size));
  const fh = await open(target.path, 'r+');
  try {
    const w0 = env.now();
    const written = await writeStream(src.stream, fh, manifest.size, (bytes) => env.progress('write', { bytes, total: manifest.size, elapsedMs: env.now() - w0 }), zeroed).catch(async (error: unknown) => {
      await wipeTables(fh, manifest.size, target.sizeBytes);
      if (error instanceof KeelError) throw error;
      throw new KeelError('io', `${image}: ${(error as Error).message}; the partition tables on ${target.path} were wiped`, { cause: error });
    });
    const writeMs = env.now() - w0;
    if (written.bytes !== manifest.size || written.sha256 !== manifest.sha256) {
      await wipeTables(fh, manifest.size, target.sizeBytes);
      throw new KeelError('verification', `${image} streamed ${written.bytes} bytes with SHA-256 ${written.sha256}, its manifest says ${manifest.size} bytes and ${manifest.sha256}; the partition tables on ${target.path} were wiped, refusing to leave a corrupt install`);
    }
    env.log.info(`image written: ${written.bytes} bytes in ${(writeMs / 1000).toFixed(1)} s (${written.skippedBytes} zero bytes skipped), sha256 verified`);
    return { written, writeMs };
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/** Adds the seed partition and writes the NoCloud seed holding the cloud-config into it. */
async function placeCloudConfig(device: string, source: string, userData: Buffer, env: InstallEnv): Promise<NonNullable<InstallReport['cloudConfig']>> {
  const part = await addSeedPartition(env.run, device);
  const instanceId = installInstanceId(env.now(), env.randomBytes(8));
  const bytes = (part.endSector - part.startSector + 1) * 512;
  const seed = await buildSeedImage(env.run, bytes, { 'user-data': userData, 'meta-data': seedMetaData(instanceId) });
  const sh = await open(device, 'r+');
  try {
    await sh.write(seed, 0, seed.length, part.startSector * 512);
    await sh.sync();
  } finally {
    await sh.close();
  }
  env.log.info(`cloud-config placed: NoCloud seed (vfat CIDATA) in partition ${part.number}, instance ${instanceId}`);
  return { source, bytes: userData.length, partition: part.number, label: 'CIDATA', instanceId };
}

async function chooseAuto(minBytes: number, env: InstallEnv) {
  const { cmdline, diskFacts } = env;
  if (!cmdline || !diskFacts) throw new KeelError('internal', '--device auto: this installer was built without the disk survey');
  return resolveAutoDevice(minBytes, { log: env.log, cmdline, diskFacts });
}

/** Installs the image; throws a KeelError (nothing or a wiped table left behind) on failure. */
export async function install(opts: InstallOptions, env: InstallEnv): Promise<InstallReport> {
  const { log } = env;
  const t0 = env.now();
  const { manifest } = await loadManifest(opts, log);
  const userData = opts.cloudConfig ? await loadCloudConfig(opts.cloudConfig, log) : undefined;
  const auto = opts.device === 'auto' ? await chooseAuto(manifest.size, env) : undefined;
  const target = inspectTarget(auto?.path ?? opts.device);
  checkTarget(target, manifest, env);
  log.info(`install: keel ${manifest.version} (${manifest.size} bytes) onto ${target.path} (${target.kind}, ${target.sizeBytes} bytes)`);
  if (!isUrl(opts.image)) await verifyLocalImage(opts.image, manifest, env);
  const { written, writeMs } = await writeImage(opts.image, manifest, target, env);
  await fixBackupHeader(env.run, target.path);
  const cloudConfig = userData && opts.cloudConfig ? await placeCloudConfig(target.path, opts.cloudConfig, userData, env) : undefined;
  await verifyGpt(env.run, target.path);
  const table = await readGpt(env.run, target.path);
  if (target.kind === 'block') {
    // Tell the kernel about the new table; loop devices without partition scanning refuse.
    const r = await env.run('blockdev', ['--rereadpt', target.path]).catch((error: unknown) => ({ exitCode: -1, stderr: (error as Error).message }));
    if (r.exitCode !== 0) log.debug(`blockdev --rereadpt ${target.path}: ${r.stderr.trim()}`);
  }
  return {
    device: target.path,
    deviceRule: auto?.rule,
    deviceBytes: target.sizeBytes,
    image: opts.image,
    version: manifest.version,
    bytes: written.bytes,
    sha256: written.sha256,
    writeMs,
    skippedZeroBytes: written.skippedBytes,
    totalMs: env.now() - t0,
    backupHeaderSector: table.sectors - 1,
    cloudConfig,
  };
}
