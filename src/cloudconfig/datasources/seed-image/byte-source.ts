/**
 * What the seed image readers read from: bytes at an offset of a device or an image file.
 * The readers are pure over this interface; the block device edge (`host/block-device.ts`)
 * and a test's buffer both provide it. Every offset a reader computes comes from the image,
 * which keel did not make, so reads are checked here, once, against the image's size.
 */
import { KeelError } from '../../../errors.js';

export interface ByteSource {
  /** The image's size in bytes. */
  readonly size: number;
  /** Up to `length` bytes at `offset`; fewer only at the end of the image. */
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** A source over bytes in memory. */
export function bufferSource(bytes: Uint8Array): ByteSource {
  return { size: bytes.length, read: async (offset, length) => bytes.subarray(offset, offset + length) };
}

/**
 * Exactly `length` bytes at `offset`, or an `invalid-input` error naming `what` (a structure
 * of the image, "the FAT", "directory 'openstack'") and `where` (the device) when the image
 * is shorter than its own structures say.
 */
export async function readExactly(source: ByteSource, offset: number, length: number, what: string, where: string): Promise<Uint8Array> {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > source.size) {
    throw new KeelError('invalid-input', `${where}: ${what} lies at bytes ${offset}-${offset + length}, past the image's ${source.size} bytes; refusing this seed`);
  }
  const bytes = await source.read(offset, length);
  if (bytes.length !== length) {
    throw new KeelError('invalid-input', `${where}: ${what}: read ${bytes.length} of ${length} bytes at byte ${offset}; refusing this seed`);
  }
  return bytes;
}

/** Little-endian unsigned integers, the on-disk order of both FAT and ISO 9660's `both-endian` fields. */
export function u16(bytes: Uint8Array, at: number): number {
  return bytes[at]! | (bytes[at + 1]! << 8);
}

export function u32(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16)) + bytes[at + 3]! * 0x1000000;
}

/** ASCII text with trailing spaces (and NULs) taken off, as both formats pad their labels. */
export function paddedAscii(bytes: Uint8Array, at: number, length: number): string {
  let text = '';
  for (let i = at; i < at + length; i++) text += String.fromCharCode(bytes[i]!);
  return text.replace(/[\s\0]+$/, '');
}
