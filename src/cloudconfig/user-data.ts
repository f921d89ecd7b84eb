/**
 * Raw user-data bytes → what kind of user-data it is (model.ts `UserData`). Gzip is undone
 * first (bounded, so a small bomb cannot fill memory), then the first line decides:
 * `#cloud-config` → YAML, `#!` → a script, a MIME header (`Content-Type: multipart/mixed…`)
 * → its parts (multipart.ts), nothing but whitespace → empty; anything else is refused as a
 * bad header, as coreos-cloudinit does. Refusals carry the line and column they are about
 * (the bad byte, the header line), or 0:0 when they are about the whole file.
 */
import { gunzipSync } from './gunzip.js';
import { KeelError } from '../errors.js';
import type { Problem } from '../problem.js';
import type { UserData } from './model.js';
import { isMime, readMultipart, type Multipart } from './multipart.js';

/** Decompressed user-data larger than this is refused (16 MiB). */
export const maxUserDataBytes = 16 * 1024 * 1024;

const cloudConfigHeader = /^#cloud-config[ \t]*\r?$/;

/** User-data as read: one of the model's kinds, or a MIME message's parts. */
export type ReadUserData = UserData | Multipart;

/** A refusal of user-data, located at what it is about; line 0 when it is about the whole file. */
export class UserDataError extends KeelError {
  constructor(
    message: string,
    readonly line = 0,
    readonly column = 0,
    options?: { cause?: unknown },
  ) {
    super('invalid-input', message, options);
    this.name = 'UserDataError';
  }

  /** The refusal as a validation problem. */
  toProblem(): Problem {
    return { severity: 'error', path: '', line: this.line, column: this.column, message: this.message };
  }
}

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
    // Only zlib's bound means "too large"; a failed allocation is the machine's shortage, not the data's size.
    if (code === 'ERR_BUFFER_TOO_LARGE') throw new UserDataError(`gzipped user-data decompresses to more than ${maxBytes} bytes; expected at most that; refusing it`, 0, 0, { cause: error });
    if (error instanceof RangeError) throw new UserDataError(`gzipped user-data could not be decompressed (${error.message.toLowerCase()}); refusing it`, 0, 0, { cause: error });
    throw new UserDataError(`user-data starts like gzip but does not decompress (${(error as Error).message.toLowerCase()}); expected valid gzip; refusing it`, 0, 0, { cause: error });
  }
}

/** Reads user-data bytes. Throws UserDataError for a bad header, bad gzip, bad UTF-8 or too much data. */
export function readUserData(bytes: Uint8Array): ReadUserData {
  const raw = gunzipBounded(bytes);
  if (raw.length > maxUserDataBytes) throw new UserDataError(`user-data is ${raw.length} bytes; expected at most ${maxUserDataBytes}; refusing it`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(raw);
  } catch (error) {
    const bad = firstInvalidUtf8(raw);
    const { line, column } = positionOf(raw, bad);
    const byte = raw[bad]!.toString(16).padStart(2, '0');
    throw new UserDataError(`invalid utf-8: byte 0x${byte} at offset ${bad}; expected utf-8 text (#cloud-config yaml or a #! script); refusing the user-data`, line, column, { cause: error });
  }
  return classifyUserData(text);
}

/** The header decision on decoded text (BOM already stripped). */
export function classifyUserData(text: string): ReadUserData {
  if (text.trim() === '') return { kind: 'empty' };
  const firstLine = text.slice(0, text.indexOf('\n') === -1 ? text.length : text.indexOf('\n'));
  if (cloudConfigHeader.test(firstLine)) return { kind: 'cloud-config', text };
  if (firstLine.startsWith('#!')) return { kind: 'script', text };
  if (isMime(text)) return readMultipart(text);
  const shown = firstLine.length > 40 ? `${firstLine.slice(0, 37)}...` : firstLine;
  throw new UserDataError(`bad header: the first line is ${JSON.stringify(shown)}; expected #cloud-config, #! (a script) or a mime multipart message; refusing the user-data`, 1, 1);
}

/** Offset of the first byte that does not start or continue a well-formed UTF-8 sequence. */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    // [length, lowest and highest allowed second byte] per lead byte (RFC 3629 table).
    const rule: [number, number, number] | undefined =
      b < 0x80 ? [1, 0, 0] : b >= 0xc2 && b <= 0xdf ? [2, 0x80, 0xbf] : b === 0xe0 ? [3, 0xa0, 0xbf] : b === 0xed ? [3, 0x80, 0x9f] : b >= 0xe1 && b <= 0xef ? [3, 0x80, 0xbf]
        : b === 0xf0 ? [4, 0x90, 0xbf] : b >= 0xf1 && b <= 0xf3 ? [4, 0x80, 0xbf] : b === 0xf4 ? [4, 0x80, 0x8f] : undefined;
    if (!rule) return i;
    const [n, lo, hi] = rule;
    for (let k = 1; k < n; k++) {
      const c = bytes[i + k];
      if (c === undefined || c < (k === 1 ? lo : 0x80) || c > (k === 1 ? hi : 0xbf)) return i;
    }
    i += n;
  }
  return bytes.length;
}

/** 1-based line and column (in characters, as the yaml positions count) of a byte offset. */
function positionOf(bytes: Uint8Array, offset: number): { line: number; column: number } {
  const before = new TextDecoder('utf-8').decode(bytes.subarray(0, offset));
  const lineStart = before.lastIndexOf('\n') + 1;
  let line = 1;
  for (let i = 0; i < before.length; i++) if (before.charCodeAt(i) === 10) line++;
  // The BOM is not a column: the decoder drops it from the text too.
  const bom = lineStart === 0 && before.charCodeAt(0) === 0xfeff ? 1 : 0;
  return { line, column: before.length - lineStart - bom + 1 };
}
