/**
 * `write_files[].content` → bytes, by its `encoding`. Every spelling CoreOS and cloud-init
 * accept maps onto four encodings; decoding is strict (base64 with stray characters is an
 * error, not silently shortened) and bounded (16 MiB of output per file, and per document
 * through ContentDecoder, which also decodes each distinct content once).
 */
import { gunzipSync } from './gunzip.js';
import type { FileEncoding } from './model.js';

/** Decoded file content larger than this is refused (per file and for all files together). */
export const maxFileContentBytes = 16 * 1024 * 1024;

/** Every accepted spelling of `encoding` → the model's encoding. */
export const encodingSpellings: Record<string, FileEncoding> = {
  'text/plain': 'plain',
  plain: 'plain',
  b64: 'base64',
  base64: 'base64',
  gz: 'gzip',
  gzip: 'gzip',
  'gz+b64': 'gzip+base64',
  'gz+base64': 'gzip+base64',
  'gzip+b64': 'gzip+base64',
  'gzip+base64': 'gzip+base64',
};

export type Decoded = { ok: true; bytes: Uint8Array } | { ok: false; message: string };

/** Strict base64 (standard or URL alphabet, whitespace ignored, padding optional). */
export function decodeBase64(text: string): Decoded {
  const clean = text.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(clean) || clean.replace(/=+$/, '').length % 4 === 1 || (clean.includes('=') && clean.length % 4 !== 0))
    return { ok: false, message: 'content is not valid base64; expected base64 text because of the encoding' };
  return { ok: true, bytes: new Uint8Array(Buffer.from(clean, 'base64')) };
}

/**
 * Gunzip that stops at `maxBytes` of output (zlib checks the bound chunk by chunk, so a bomb
 * costs at most the bound). Only the bound is reported as "too large": a failed allocation
 * is a different fact (the machine ran short of memory) and says so.
 */
export function decodeGzip(bytes: Uint8Array, maxBytes = maxFileContentBytes, tooLarge = `content decompresses to more than ${maxBytes} bytes; expected at most that`): Decoded {
  try {
    return { ok: true, bytes: new Uint8Array(gunzipSync(bytes, { maxOutputLength: Math.max(1, maxBytes) })) };
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ERR_BUFFER_TOO_LARGE') return { ok: false, message: tooLarge };
    // Anything else zlib or the allocator throws is said as it is, never as "too large".
    if (error instanceof RangeError) return { ok: false, message: `content could not be decompressed (${error.message.toLowerCase()}); expected gzip data of at most ${maxBytes} bytes` };
    return { ok: false, message: `content does not gunzip (${(error as Error).message.toLowerCase()}); expected gzip data because of the encoding` };
  }
}

/** Decodes content given as text (or bytes, from YAML's `!!binary`) by the model encoding. */
export function decodeContent(content: string | Uint8Array, encoding: FileEncoding, maxBytes = maxFileContentBytes, tooLarge?: string): Decoded {
  const asBytes = (c: string | Uint8Array) => (typeof c === 'string' ? new Uint8Array(Buffer.from(c, 'utf8')) : c);
  let result: Decoded;
  switch (encoding) {
    case 'plain':
      result = { ok: true, bytes: asBytes(content) };
      break;
    case 'base64':
      result = typeof content === 'string' ? decodeBase64(content) : { ok: true, bytes: content };
      break;
    case 'gzip':
      result = decodeGzip(asBytes(content), maxBytes, tooLarge);
      break;
    case 'gzip+base64': {
      const raw = typeof content === 'string' ? decodeBase64(content) : ({ ok: true, bytes: content } as const);
      result = raw.ok ? decodeGzip(raw.bytes, maxBytes, tooLarge) : raw;
      break;
    }
  }
  if (result.ok && result.bytes.length > maxBytes) return { ok: false, message: tooLarge ?? `content is ${result.bytes.length} bytes; expected at most ${maxBytes}` };
  return result;
}

/**
 * The decoding of one document's files: each distinct content is decoded once (an aliased
 * `write_files` entry is refined once per use: the bytes are shared, not decoded again), and
 * all distinct contents together get one budget, passed to gunzip as its bound, so a document
 * of many small gzip bombs costs at most the budget in time and memory.
 */
export class ContentDecoder {
  private readonly done = new Map<string | Uint8Array, Map<FileEncoding, Decoded>>();
  private left: number;

  constructor(private readonly maxBytes = maxFileContentBytes) {
    this.left = maxBytes;
  }

  decode(content: string | Uint8Array, encoding: FileEncoding): Decoded {
    let byEncoding = this.done.get(content);
    const known = byEncoding?.get(encoding);
    if (known) return known;
    const bound = Math.min(this.maxBytes, this.left);
    const tooLarge =
      bound < this.maxBytes
        ? `content decodes to more than the ${bound} bytes left of the ${this.maxBytes} all files may hold together; expected at most that`
        : `content decompresses to more than ${this.maxBytes} bytes; expected at most that`;
    const result = decodeContent(content, encoding, bound, tooLarge);
    if (result.ok) this.left -= result.bytes.length;
    if (!byEncoding) this.done.set(content, (byEncoding = new Map()));
    byEncoding.set(encoding, result);
    return result;
  }
}
