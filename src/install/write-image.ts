/**
 * Streams the image onto the target: SHA-256 and byte count on the way, writes coalesced
 * into 4 MiB blocks at increasing offsets, one fsync at the end. Never buffers the image.
 */
import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { KeelError } from '../errors.js';

const blockBytes = 4 << 20;

export interface WriteResult {
  bytes: number;
  sha256: string;
  /** Bytes not written because they were zero and the target was zeroed beforehand. */
  skippedBytes: number;
}

const zeroBlock = Buffer.alloc(blockBytes);

/**
 * Copies `stream` to `fh` from offset 0, stopping with an error past `limitBytes`. With
 * `skipZeroBlocks` (the target range is known to read as zeros), all-zero blocks are not
 * written: most of a fresh image is empty slot and state space.
 */
export async function writeStream(stream: Readable, fh: FileHandle, limitBytes: number, onProgress: (bytes: number) => void, skipZeroBlocks = false): Promise<WriteResult> {
  const hash = createHash('sha256');
  const block = Buffer.allocUnsafe(blockBytes);
  let fill = 0;
  let offset = 0;
  let skippedBytes = 0;
  const flush = async () => {
    let done = 0;
    if (skipZeroBlocks && block.subarray(0, fill).equals(zeroBlock.subarray(0, fill))) {
      skippedBytes += fill;
      done = fill;
    }
    while (done < fill) done += (await fh.write(block, done, fill - done, offset + done)).bytesWritten;
    offset += fill;
    fill = 0;
    onProgress(offset);
  };
  for await (const data of stream) {
    const chunk = data as Buffer;
    hash.update(chunk);
    if (offset + fill + chunk.length > limitBytes) {
      stream.destroy();
      throw new KeelError('verification', `the image is longer than the ${limitBytes} bytes its manifest (or the device) allows; refusing`);
    }
    let pos = 0;
    while (pos < chunk.length) {
      const n = Math.min(chunk.length - pos, blockBytes - fill);
      chunk.copy(block, fill, pos, pos + n);
      fill += n;
      pos += n;
      if (fill === blockBytes) await flush();
    }
  }
  if (fill > 0) await flush();
  await fh.sync();
  return { bytes: offset, sha256: hash.digest('hex'), skippedBytes };
}

/** SHA-256 and length of a stream, without writing it anywhere (pre-checks local images). */
export async function hashStream(stream: Readable, onProgress: (bytes: number) => void): Promise<WriteResult> {
  const hash = createHash('sha256');
  let bytes = 0;
  let lastReport = 0;
  for await (const data of stream) {
    hash.update(data as Buffer);
    bytes += (data as Buffer).length;
    if (bytes - lastReport >= blockBytes * 16) {
      lastReport = bytes;
      onProgress(bytes);
    }
  }
  onProgress(bytes);
  return { bytes, sha256: hash.digest('hex'), skippedBytes: 0 };
}
