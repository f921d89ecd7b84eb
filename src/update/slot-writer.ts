import { createHash, type Hash } from 'node:crypto';
import { open, readFile, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { KeelError } from '../errors.js';
import { openPayload } from './payload-source.js';
import { readRecords, removeRecords, writeRecord, type ProgressRecord } from './progress-record.js';
import type { ReleaseFile } from './release.js';

/**
 * Streams one verified target into a slot: hashing and counting while the bytes arrive,
 * recording durable progress so a restart resumes with an HTTP Range request, then reading
 * the written bytes back and hashing them again. A regular-file target is written beside
 * itself (`<file>.keel-partial`) and renamed only when verified, so a partial result never
 * touches it; a block device is written in place, and is never made bootable until verified.
 */
export interface SlotWrite {
  url: string;
  file: ReleaseFile;
  version: string;
  target: string;
  slot?: string;
  stateDir: string;
  onProgress?: (written: number, total: number) => void;
  /** Bytes between durable progress records. */
  syncEveryBytes?: number;
}

export interface SlotWriteResult {
  resumedFrom: number;
  bytes: number;
}

const defaultSyncBytes = 16 << 20;

/** Writes `file` into `target`, resuming from a `.partial` record when one matches. */
export async function writeSlot(w: SlotWrite): Promise<SlotWriteResult> {
  const { file } = w;
  const isBlock = (await stat(w.target).catch(() => undefined))?.isBlockDevice() ?? false;
  const dataPath = isBlock ? w.target : `${w.target}.keel-partial`;
  const record = (await readRecords(w.stateDir)).find((r) => r.version === w.version && r.phase === 'partial');
  let offset = record && record.sha256 === file.sha256 && record.target === w.target && record.length === file.length ? record.written : 0;
  const dataSize = (await stat(dataPath).catch(() => undefined))?.size ?? 0;
  if (!isBlock && dataSize < offset) offset = 0;
  if (isBlock && (await deviceSize(w.target)) < file.length)
    throw new KeelError('invalid-input', `${w.target}: the device is smaller than the ${file.length}-byte slot image; nothing written`);

  const handle = await open(dataPath, isBlock || dataSize > 0 ? 'r+' : 'w+');
  try {
    let hash = createHash('sha256');
    if (offset > 0) await hashRange(handle, hash, offset);
    const opened = await openPayload(w.url, offset);
    if (opened.offset !== offset) {
      // The server ignored the Range header: start over from the first byte.
      hash = createHash('sha256');
      offset = opened.offset;
    }
    // A file target holds exactly the image: drop whatever an older attempt left past the resume point.
    if (!isBlock) await handle.truncate(offset);
    const resumedFrom = offset;
    const base: ProgressRecord = { version: w.version, phase: 'partial', target: w.target, length: file.length, sha256: file.sha256, written: offset, updatedAt: '' };
    if (w.slot) base.slot = w.slot;
    const syncEvery = w.syncEveryBytes ?? defaultSyncBytes;
    let written = offset;
    let sinceSync = 0;
    w.onProgress?.(written, file.length);
    for await (const chunk of opened.stream as AsyncIterable<Buffer>) {
      if (written + chunk.length > file.length) {
        opened.stream.destroy();
        await discard(w, dataPath, isBlock);
        throw new KeelError('verification', `${w.url}: payload is longer than the ${file.length} bytes the signed metadata allows (tampered); discarded what was written, nothing installed`);
      }
      hash.update(chunk);
      let done = 0;
      while (done < chunk.length) done += (await handle.write(chunk, done, chunk.length - done, written + done)).bytesWritten;
      written += chunk.length;
      sinceSync += chunk.length;
      if (sinceSync >= syncEvery) {
        await handle.datasync();
        await writeRecord(w.stateDir, { ...base, written, updatedAt: new Date().toISOString() });
        sinceSync = 0;
      }
      w.onProgress?.(written, file.length);
    }
    await handle.datasync();
    if (written < file.length) {
      await writeRecord(w.stateDir, { ...base, written, updatedAt: new Date().toISOString() });
      throw new KeelError('unavailable', `${w.url}: payload ended after ${written} of ${file.length} bytes (truncated or interrupted); kept the partial to resume, nothing installed`);
    }
    const digest = hash.digest('hex');
    if (digest !== file.sha256) {
      await discard(w, dataPath, isBlock);
      throw new KeelError('verification', `${w.url}: SHA-256 ${digest} does not match the signed ${file.sha256} (tampered); discarded what was written, nothing installed`);
    }
    const readBack = createHash('sha256');
    await hashRange(handle, readBack, file.length);
    const again = readBack.digest('hex');
    if (again !== file.sha256) {
      await discard(w, dataPath, isBlock);
      throw new KeelError('io', `${dataPath}: read back SHA-256 ${again}, wrote ${file.sha256}: the target does not keep what is written; nothing installed`);
    }
    await handle.close();
    if (!isBlock) {
      await rename(dataPath, w.target);
      await syncDir(dirname(w.target));
    }
    return { resumedFrom, bytes: written - resumedFrom };
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/** Hashes the first `length` bytes of an open file. */
async function hashRange(handle: FileHandle, hash: Hash, length: number): Promise<void> {
  const buffer = Buffer.allocUnsafe(4 << 20);
  let position = 0;
  while (position < length) {
    const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, length - position), position);
    if (bytesRead === 0) throw new KeelError('io', `read back ended after ${position} of ${length} bytes; nothing installed`);
    hash.update(buffer.subarray(0, bytesRead));
    position += bytesRead;
  }
}

async function discard(w: SlotWrite, dataPath: string, isBlock: boolean): Promise<void> {
  await removeRecords(w.stateDir, w.version);
  if (!isBlock) await unlink(dataPath).catch(() => undefined);
}

/** A block device's size from sysfs (stat reports 0 for devices); unknown = unlimited. */
async function deviceSize(path: string): Promise<number> {
  const { rdev } = await stat(path);
  const major = (rdev >> 8) & 0xfff;
  const minor = (rdev & 0xff) | ((rdev >> 12) & 0xfff00);
  const sectors = await readFile(`/sys/dev/block/${major}:${minor}/size`, 'utf8').catch(() => undefined);
  return sectors === undefined ? Number.MAX_SAFE_INTEGER : Number(sectors.trim()) * 512;
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r').catch(() => undefined);
  await handle?.sync().catch(() => undefined);
  await handle?.close();
}
