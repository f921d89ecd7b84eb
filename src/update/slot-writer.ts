import { createHash, type Hash } from 'node:crypto';
import { constants } from 'node:fs';
import { open, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Readable } from 'node:stream';
import { KeelError } from '../errors.js';
import { fsFailure, onPath } from '../host/fs-failure.js';
import { syncDirectory } from '../host/crash-safe-write.js';
import { probeSlotTarget, type SlotTarget } from './slot-target.js';
import { openPayload } from './payload-source.js';
import { readRecords, recordPartial, removeRecords, type ProgressRecord } from './progress-record.js';
import type { ReleaseFile } from './release.js';

/**
 * Streams one verified target into a slot: hashing and counting while the bytes arrive,
 * recording durable progress so a restart resumes with an HTTP Range request, then reading
 * the written bytes back and hashing them again. A regular-file target is written beside
 * itself (`<file>.keel-partial`) and renamed only when verified, so a partial result never
 * touches it; a block device is written in place, and is never made bootable until verified.
 * The target is checked before the download starts (slot-target.ts); a failed write removes
 * the partial file, except after an interrupted download, which the next run resumes.
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
  /** A last check of the verified bytes at their path (dm-verity), before a file is renamed into place. */
  check?: (path: string) => Promise<void>;
}

export interface SlotWriteResult {
  resumedFrom: number;
  bytes: number;
}

const defaultSyncBytes = 16 << 20;

/** Writes `file` into `target`, resuming from a `.partial` record when one matches. */
export async function writeSlot(w: SlotWrite): Promise<SlotWriteResult> {
  const { file } = w;
  const target = await probeSlotTarget(w.target, file.length);
  const isBlock = target.kind === 'block';
  const dataPath = target.kind === 'block' ? target.path : target.partialPath;
  const record = (await readRecords(w.stateDir)).find((r) => r.version === w.version && r.phase === 'partial');
  let offset = record && record.sha256 === file.sha256 && record.target === w.target && record.length === file.length ? record.written : 0;
  const dataSize = isBlock ? 0 : ((await stat(dataPath).catch(() => undefined))?.size ?? 0);
  if (!isBlock && dataSize < offset) offset = 0;
  // The source is opened before the target, so a missing or refused download writes nothing.
  // A record covering every byte (killed during the checks after the last chunk) needs no
  // download: a Range request at the end would be refused with 416.
  let opened = offset === file.length ? { stream: Readable.from([]), offset } : await openPayload(w.url, offset);
  if (opened.offset !== offset && opened.offset !== 0) {
    opened.stream.destroy(); // a source that starts somewhere else: take it from the first byte
    opened = await openPayload(w.url, 0);
  }
  offset = opened.offset; // 0 when the server ignored the Range header
  // O_NOFOLLOW: a symlink planted at the partial's name must not redirect the write.
  const flags = isBlock ? constants.O_RDWR : constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW;
  const handle = await onPath(dataPath, 'open for writing', () => open(dataPath, flags, 0o644), 'nothing installed').catch((error: unknown) => {
    opened.stream.destroy();
    throw error;
  });
  let written = offset;
  try {
    const hash = createHash('sha256');
    if (offset > 0) await hashRange(handle, hash, offset);
    // A file target holds exactly the image: drop whatever an older attempt left past the resume point.
    if (!isBlock) await onPath(dataPath, 'truncate', () => handle.truncate(offset));
    const base: Omit<ProgressRecord, 'phase'> = { version: w.version, target: w.target, length: file.length, sha256: file.sha256, written: offset, updatedAt: '' };
    if (w.slot) base.slot = w.slot;
    const syncEvery = w.syncEveryBytes ?? defaultSyncBytes;
    let sinceSync = 0;
    w.onProgress?.(written, file.length);
    for await (const chunk of downloaded(opened.stream, w.url, () => written, file.length)) {
      if (written + chunk.length > file.length) {
        opened.stream.destroy();
        throw new KeelError('verification', `${w.url}: payload is longer than the ${file.length} bytes the signed metadata allows (tampered)`);
      }
      hash.update(chunk);
      await writeAt(handle, chunk, written, dataPath);
      written += chunk.length;
      sinceSync += chunk.length;
      if (sinceSync >= syncEvery) {
        await onPath(dataPath, 'flush', () => handle.datasync());
        await recordPartial(w.stateDir, { ...base, written, updatedAt: new Date().toISOString() });
        sinceSync = 0;
      }
      w.onProgress?.(written, file.length);
    }
    await onPath(dataPath, 'flush', () => handle.datasync());
    if (written < file.length) {
      await recordPartial(w.stateDir, { ...base, written, updatedAt: new Date().toISOString() });
      throw new KeelError('unavailable', `${w.url}: payload ended after ${written} of ${file.length} bytes (truncated or interrupted); kept the partial to resume, nothing installed`);
    }
    const digest = hash.digest('hex');
    if (digest !== file.sha256) throw new KeelError('verification', `${w.url}: SHA-256 ${digest} does not match the signed ${file.sha256} (tampered)`);
    const readBack = createHash('sha256');
    await hashRange(handle, readBack, file.length);
    const again = readBack.digest('hex');
    if (again !== file.sha256) throw new KeelError('io', `${dataPath}: read back SHA-256 ${again}, wrote ${file.sha256}: the target does not keep what is written`);
    await handle.close();
    await w.check?.(dataPath);
    if (target.kind === 'file') {
      await onPath(w.target, `rename ${dataPath} onto`, () => rename(dataPath, w.target));
      await syncDirectory(dirname(w.target)).catch(() => undefined);
    }
    return { resumedFrom: opened.offset, bytes: written - opened.offset };
  } catch (error) {
    // Only an interrupted download keeps its partial (to resume); any other failure is refused and cleaned up.
    if (error instanceof KeelError && error.kind === 'unavailable') throw error;
    throw await refuse(w, target, written, error);
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/** The payload's chunks; a connection lost midway becomes 'unavailable' (the partial is kept to resume). */
async function* downloaded(stream: AsyncIterable<Buffer> & NodeJS.ReadableStream, url: string, written: () => number, length: number): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of stream) yield chunk as Buffer;
  } catch (error) {
    throw new KeelError('unavailable', `${url}: the download broke off after ${written()} of ${length} bytes (${(error as Error).message}); kept the partial to resume on the next run, nothing installed`, { cause: error });
  }
}

export async function writeAt(handle: FileHandle, chunk: Buffer, position: number, path: string): Promise<void> {
  let done = 0;
  while (done < chunk.length) done += (await onPath(path, 'write', () => handle.write(chunk, done, chunk.length - done, position + done))).bytesWritten;
}

/**
 * Ends a failed write truthfully. A file target's partial and records are removed, so nothing
 * of it is left. A block device keeps whatever reached it: that is said, and it is not made
 * bootable (no boot entry is written for it; the agent removed the slot's entries before writing).
 */
async function refuse(w: SlotWrite, target: SlotTarget, written: number, error: unknown): Promise<KeelError> {
  const what = error instanceof KeelError ? error : fsFailure(error, target.kind === 'file' ? target.partialPath : target.path, 'write the slot image');
  await removeRecords(w.stateDir, w.version).catch(() => undefined);
  if (target.kind === 'file') {
    await unlink(target.partialPath).catch(() => undefined);
    return new KeelError(what.kind, `${what.message}; discarded what was written, nothing installed`, { cause: error });
  }
  return new KeelError(what.kind, `${what.message}; ${target.path} now holds up to ${written} unverified bytes of ${w.version}: it is not made bootable and no boot entry points at it; nothing installed`, { cause: error });
}

/** Hashes the first `length` bytes of an open file (payload-writer.ts uses it too). */
export async function hashRange(handle: FileHandle, hash: Hash, length: number): Promise<void> {
  const buffer = Buffer.allocUnsafe(4 << 20);
  let position = 0;
  while (position < length) {
    const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, length - position), position);
    if (bytesRead === 0) throw new KeelError('io', `read back ended after ${position} of ${length} bytes`);
    hash.update(buffer.subarray(0, bytesRead));
    position += bytesRead;
  }
}
