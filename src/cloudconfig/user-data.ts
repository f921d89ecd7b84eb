/**
 * Raw user-data bytes → what kind of user-data it is (model.ts `UserData`). Gzip is undone
 * first (bounded, so a small bomb cannot fill memory), then the first line decides:
 * `#cloud-config` → YAML, `#!` → a script, nothing but whitespace → empty; anything else is
 * refused as a bad header, as coreos-cloudinit does.
 */
import { gunzipSync } from 'node:zlib';
import { KeelError } from '../errors.js';
import type { UserData } from './model.js';

/** Decompressed user-data larger than this is refused (16 MiB). */
export const maxUserDataBytes = 16 * 1024 * 1024;

const cloudConfigHeader = /^#cloud-config[ \t]*\r?$/;

/** True when the bytes start with gzip's magic number. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Undoes gzip when present; refuses more than `maxBytes` of output. */
export function gunzipBounded(bytes: Uint8Array, maxBytes = maxUserDataBytes): Uint8Array {
  if (!isGzip(bytes)) return bytes;
  try {
    return gunzipSync(bytes, { maxOutputLength: maxBytes });
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ERR_BUFFER_TOO_LARGE' || error instanceof RangeError)
      throw new KeelError('invalid-input', `gzipped user-data decompresses to more than ${maxBytes} bytes; expected at most that; refusing it`, { cause: error });
    throw new KeelError('invalid-input', `user-data starts like gzip but does not decompress (${(error as Error).message.toLowerCase()}); expected valid gzip; refusing it`, { cause: error });
  }
}

/** Reads user-data bytes. Throws KeelError('invalid-input') for a bad header, bad gzip, bad UTF-8 or too much data. */
export function readUserData(bytes: Uint8Array): UserData {
  const raw = gunzipBounded(bytes);
  if (raw.length > maxUserDataBytes) throw new KeelError('invalid-input', `user-data is ${raw.length} bytes; expected at most ${maxUserDataBytes}; refusing it`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(raw);
  } catch (error) {
    throw new KeelError('invalid-input', 'user-data is not valid utf-8 text; expected #cloud-config yaml or a #! script; refusing it', { cause: error });
  }
  return classifyUserData(text);
}

/** The header decision on decoded text (BOM already stripped). */
export function classifyUserData(text: string): UserData {
  if (text.trim() === '') return { kind: 'empty' };
  const firstLine = text.slice(0, text.indexOf('\n') === -1 ? text.length : text.indexOf('\n'));
  if (cloudConfigHeader.test(firstLine)) return { kind: 'cloud-config', text };
  if (firstLine.startsWith('#!')) return { kind: 'script', text };
  const shown = firstLine.length > 40 ? `${firstLine.slice(0, 37)}...` : firstLine;
  throw new KeelError('invalid-input', `bad header: the first line is ${JSON.stringify(shown)}; expected #cloud-config or #! (a script); refusing the user-data`);
}
