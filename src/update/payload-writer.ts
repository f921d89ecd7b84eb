import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, rename, rm, stat, statfs, type FileHandle } from 'node:fs/promises';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { dirname, join } from 'node:path';
import { KeelError } from '../errors.js';
import { onPath } from '../host/fs-failure.js';
import { syncDirectory } from '../host/crash-safe-write.js';
import { streamCommand, type StreamCommand } from '../host/process.js';
import { probeSlotTarget } from './slot-target.js';
import { openPayload } from './payload-source.js';
import { hashRange, writeAt } from './slot-writer.js';
import { maxWindowLog, type CompressedPayload } from './release.js';

/**
 * Streams a zstd payload (full or `--patch-from` delta) into a slot: download → spool → zstd
 * -d → hash → write, all at once. The compressed bytes are also appended to a spool file in
 * the state directory named by their signed SHA-256, so an interrupted download resumes with
 * an HTTP Range request: the spooled prefix is fed to zstd again, then the rest from the
 * network (zstd cannot restart mid-stream). Both signed facts are checked: the compressed
 * object's length and SHA-256 before zstd's input is closed, and the slot's length and SHA-256
 * on the decompressed bytes and again on what the target holds. A file target is written
 * beside itself and renamed only when verified, as for raw payloads (slot-writer.ts).
 */
export interface PayloadWrite {
  url: string;
  payload: CompressedPayload;
  /** A delta's base: a regular file holding exactly the slot the delta starts from. */
  base?: string;
  target: string;
  stateDir: string;
  onProgress?: (written: number, total: number) => void;
  syncEveryBytes?: number;
  run?: StreamCommand;
  /** A last check of the verified bytes at their path (dm-verity), before a file is renamed into place. */
  check?: (path: string) => Promise<void>;
}

export interface PayloadWriteResult {
  /** Compressed bytes already spooled when this run began. */
  resumedFrom: number;
  /** Compressed bytes downloaded by this run. */
  downloaded: number;
}

const defaultSyncBytes = 4 << 20;

/** The spool directory of compressed payloads in a state directory. */
export function spoolDirOf(stateDir: string): string {
  return join(stateDir, 'payloads');
}

/** Writes the slot `payload` decompresses to into `target`; see above. */
export async function writePayload(w: PayloadWrite): Promise<PayloadWriteResult> {
  const { payload } = w;
  if (payload.windowLog > maxWindowLog) throw new KeelError('verification', `${w.url}: zstd window 2^${payload.windowLog} is above the 2^${maxWindowLog} a node accepts; not used`);
  const target = await probeSlotTarget(w.target, payload.slot.length);
  const spoolDir = spoolDirOf(w.stateDir);
  await onPath(spoolDir, 'create the spool directory', () => mkdir(spoolDir, { recursive: true }), 'nothing installed');
  const spoolPath = join(spoolDir, `${payload.sha256}.partial`);
  let offset = Math.min((await stat(spoolPath).catch(() => undefined))?.size ?? 0, payload.length);
  const fs = await onPath(spoolDir, 'measure free space', () => statfs(spoolDir), 'nothing installed');
  if (fs.bavail * fs.bsize < payload.length - offset)
    throw new KeelError('io', `${spoolDir}: ${fs.bavail * fs.bsize} bytes free, the ${payload.length}-byte payload does not fit; not used`);
  // All of it spooled already (a crash while decoding): nothing more to download.
  let opened = offset === payload.length ? { stream: Readable.from([]), offset } : await openPayload(w.url, offset);
  if (opened.offset !== offset) {
    opened.stream.destroy();
    opened = await openPayload(w.url, 0);
  }
  offset = opened.offset;
  const spool = await onPath(spoolPath, 'open the spool', () => open(spoolPath, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600));
  const dataPath = target.kind === 'block' ? target.path : target.partialPath;
  const flags = target.kind === 'block' ? constants.O_RDWR : constants.O_RDWR | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW;
  const out = await onPath(dataPath, 'open for writing', () => open(dataPath, flags, 0o644)).catch(async (error: unknown) => {
    opened.stream.destroy();
    await spool.close();
    throw error;
  });
  const zstd = (w.run ?? streamCommand)('zstd', ['-d', '-c', '-q', `--long=${payload.windowLog}`, ...(w.base ? [`--patch-from=${w.base}`] : [])]);
  let downloaded = 0;
  try {
    await spool.truncate(offset);
    // Once zstd has ended, a write into it can never drain: the feeder stops waiting then.
    const exited = zstd.done.then(
      () => Promise.reject(new KeelError('verification', `${w.url}: zstd stopped reading the payload`)),
      (error: unknown) => Promise.reject(error),
    );
    exited.catch(() => undefined);
    const feeding = feed(w, spool, offset, opened.stream, zstd.stdin, exited, (n) => (downloaded += n));
    const writing = drain(w, zstd.stdout, out, dataPath);
    // The first failure stops both sides: zstd is killed so neither waits on the other.
    const results = await Promise.allSettled([feeding.catch(stop(zstd, opened.stream)), writing.catch(stop(zstd, opened.stream))]);
    const ended = await zstd.done;
    // zstd's own refusal (exit > 0, not our kill) is the cause of whatever else failed.
    if (ended.exitCode > 0)
      throw new KeelError('verification', `${w.url}: zstd could not decode the payload (${ended.stderr.trim().split('\n').at(-1) ?? `exit ${ended.exitCode}`}): damaged, or a delta for another base`);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    if (ended.exitCode !== 0) throw new KeelError('io', `${w.url}: zstd ended by ${ended.signal ?? `exit ${ended.exitCode}`}; nothing installed`);
    const written = (results[1] as PromiseFulfilledResult<string>).value;
    if (written !== payload.slot.sha256) throw new KeelError('verification', `${w.url}: decodes to a slot with SHA-256 ${written}, signed ${payload.slot.sha256} (tampered, or a delta for another base)`);
    await onPath(dataPath, 'flush', () => out.datasync());
    const readBack = createHash('sha256');
    await hashRange(out, readBack, payload.slot.length);
    const again = readBack.digest('hex');
    if (again !== payload.slot.sha256) throw new KeelError('io', `${dataPath}: read back SHA-256 ${again}, wrote ${payload.slot.sha256}: the target does not keep what is written`);
    await out.close();
    await w.check?.(dataPath);
    if (target.kind === 'file') {
      await onPath(w.target, `rename ${dataPath} onto`, () => rename(dataPath, w.target));
      await syncDirectory(dirname(w.target)).catch(() => undefined);
    }
    await spool.close();
    await rm(spoolPath, { force: true });
    return { resumedFrom: offset, downloaded };
  } catch (error) {
    // An interrupted download keeps its spool to resume; anything else discards it.
    if (!(error instanceof KeelError && error.kind === 'unavailable')) await rm(spoolPath, { force: true }).catch(() => undefined);
    if (target.kind === 'file') await rm(target.partialPath, { force: true }).catch(() => undefined);
    throw error;
  } finally {
    zstd.kill();
    await spool.close().catch(() => undefined);
    await out.close().catch(() => undefined);
  }
}

function stop(zstd: { kill(): void }, source: { destroy(): void }) {
  return (error: unknown) => {
    zstd.kill();
    source.destroy();
    throw error;
  };
}

/**
 * zstd's input: the spooled prefix, then the download, each new chunk spooled; the compressed
 * length and SHA-256 are checked before the input is closed, so zstd never sees the end of a
 * stream that is not the signed one.
 */
async function feed(w: PayloadWrite, spool: FileHandle, offset: number, source: AsyncIterable<Buffer>, stdin: NodeJS.WritableStream, exited: Promise<never>, count: (n: number) => void): Promise<void> {
  const { payload } = w;
  const hash = createHash('sha256');
  const put = async (chunk: Buffer) => {
    hash.update(chunk);
    if (!stdin.write(chunk)) await Promise.race([once(stdin as NodeJS.EventEmitter, 'drain'), exited]);
  };
  const buffer = Buffer.allocUnsafe(1 << 20);
  for (let at = 0; at < offset; ) {
    const { bytesRead } = await spool.read(buffer, 0, Math.min(buffer.length, offset - at), at);
    if (bytesRead === 0) break;
    await put(Buffer.from(buffer.subarray(0, bytesRead)));
    at += bytesRead;
  }
  let received = offset;
  let sinceSync = 0;
  const iterator = source[Symbol.asyncIterator]();
  for (;;) {
    let next: IteratorResult<Buffer>;
    try {
      next = await iterator.next();
    } catch (error) {
      await spool.datasync().catch(() => undefined);
      throw new KeelError('unavailable', `${w.url}: the download broke off after ${received} of ${payload.length} bytes (${(error as Error).message}); kept them to resume on the next run, nothing installed`, { cause: error });
    }
    if (next.done) break;
    const chunk = next.value;
    if (received + chunk.length > payload.length) throw new KeelError('verification', `${w.url}: payload is longer than the ${payload.length} bytes the signed metadata allows (tampered)`);
    await writeAt(spool, chunk, received, 'the spool');
    received += chunk.length;
    count(chunk.length);
    sinceSync += chunk.length;
    if (sinceSync >= (w.syncEveryBytes ?? defaultSyncBytes)) {
      await spool.datasync();
      sinceSync = 0;
    }
    await put(chunk);
  }
  await spool.datasync();
  if (received < payload.length) throw new KeelError('unavailable', `${w.url}: payload ended after ${received} of ${payload.length} bytes (truncated or interrupted); kept them to resume, nothing installed`);
  const digest = hash.digest('hex');
  if (digest !== payload.sha256) throw new KeelError('verification', `${w.url}: SHA-256 ${digest} does not match the signed ${payload.sha256} (tampered)`);
  stdin.end();
}

/** zstd's output into the target, counted and hashed; returns the SHA-256 of what it wrote. */
async function drain(w: PayloadWrite, stdout: AsyncIterable<Buffer>, out: FileHandle, dataPath: string): Promise<string> {
  const { slot } = w.payload;
  const hash = createHash('sha256');
  let written = 0;
  w.onProgress?.(0, slot.length);
  for await (const chunk of stdout) {
    if (written + chunk.length > slot.length) throw new KeelError('verification', `${w.url}: decodes to more than the signed ${slot.length}-byte slot (tampered, or a delta for another base)`);
    hash.update(chunk);
    await writeAt(out, chunk, written, dataPath);
    written += chunk.length;
    w.onProgress?.(written, slot.length);
  }
  if (written !== slot.length) throw new KeelError('verification', `${w.url}: decodes to ${written} bytes, the signed slot has ${slot.length} (damaged, or a delta for another base)`);
  return hash.digest('hex');
}
