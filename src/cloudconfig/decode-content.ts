/**
 * `write_files[].content` → bytes, by its `encoding`. Every spelling CoreOS and cloud-init
 * accept maps onto four encodings; decoding is strict (base64 with stray characters is an
 * error, not silently shortened) and bounded (16 MiB of output per file).
 */
import { gunzipSync } from 'node:zlib';
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

/** Gunzip with an output bound. */
export function decodeGzip(bytes: Uint8Array, maxBytes = maxFileContentBytes): Decoded {
  try {
    return { ok: true, bytes: new Uint8Array(gunzipSync(bytes, { maxOutputLength: maxBytes })) };
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ERR_BUFFER_TOO_LARGE' || error instanceof RangeError) return { ok: false, message: `content decompresses to more than ${maxBytes} bytes; expected at most that` };
    return { ok: false, message: `content does not gunzip (${(error as Error).message.toLowerCase()}); expected gzip data because of the encoding` };
  }
}

/** Decodes content given as text (or bytes, from YAML's `!!binary`) by the model encoding. */
export function decodeContent(content: string | Uint8Array, encoding: FileEncoding, maxBytes = maxFileContentBytes): Decoded {
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
      result = decodeGzip(asBytes(content), maxBytes);
      break;
    case 'gzip+base64': {
      const raw = typeof content === 'string' ? decodeBase64(content) : ({ ok: true, bytes: content } as const);
      result = raw.ok ? decodeGzip(raw.bytes, maxBytes) : raw;
      break;
    }
  }
  if (result.ok && result.bytes.length > maxBytes) return { ok: false, message: `content is ${result.bytes.length} bytes; expected at most ${maxBytes}` };
  return result;
}
