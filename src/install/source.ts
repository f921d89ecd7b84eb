/**
 * Where the installer reads the image, its manifest and the cloud-config from: a local
 * path, a file: URL or http(s). The image is streamed, never held in memory.
 */
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { get as plainGet, type IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { KeelError } from '../errors.js';

/** True for http: and https: references. */
export function isUrl(ref: string): boolean {
  return /^https?:\/\//i.test(ref);
}

function localPath(ref: string): string {
  return ref.startsWith('file:') ? fileURLToPath(ref) : ref;
}

export interface OpenedSource {
  stream: Readable;
  /** Length announced by the server or the file system, when known. */
  size?: number;
}

/**
 * GET through node:http(s) rather than fetch: fetch's web streams cost about 3x the CPU per
 * byte, which decides the install time on a slow (emulated) installer. Follows redirects;
 * `idleMs` bounds the wait for the headers and for each chunk of the body.
 */
function httpGet(url: string, idleMs: number, redirects = 5): Promise<IncomingMessage> {
  return new Promise((resolveRes, reject) => {
    const get = url.startsWith('https:') ? httpsGet : plainGet;
    const req = get(url, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location && redirects > 0) {
        res.resume();
        resolveRes(httpGet(new URL(res.headers.location, url).toString(), idleMs, redirects - 1));
        return;
      }
      res.setTimeout(idleMs, () => res.destroy(new KeelError('unavailable', `${url}: no data for ${idleMs} ms`)));
      resolveRes(res);
    });
    req.setTimeout(idleMs, () => req.destroy(new KeelError('unavailable', `${url}: no answer within ${idleMs} ms`)));
    req.on('error', (error) => reject(error instanceof KeelError ? error : new KeelError('unavailable', `cannot fetch ${url}: ${error.message}`, { cause: error })));
  });
}

/** Opens `ref` for streaming. Missing files and HTTP errors are KeelErrors. */
export async function openSource(ref: string, idleMs = 60_000): Promise<OpenedSource> {
  if (isUrl(ref)) {
    const res = await httpGet(ref, idleMs);
    const status = res.statusCode ?? 0;
    if (status === 404) {
      res.resume();
      throw new KeelError('not-found', `${ref}: HTTP 404`);
    }
    if (status !== 200) {
      res.resume();
      throw new KeelError('unavailable', `${ref}: HTTP ${status} ${res.statusMessage ?? ''}`.trim());
    }
    const length = Number(res.headers['content-length']);
    return { stream: res, size: Number.isFinite(length) && length > 0 ? length : undefined };
  }
  const path = localPath(ref);
  let st;
  try {
    st = await stat(path);
  } catch (error) {
    throw new KeelError('not-found', `${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`, { cause: error });
  }
  return { stream: createReadStream(path, { highWaterMark: 4 << 20 }), size: st.size };
}

/** Reads a small document (manifest, cloud-config) whole; refuses one over `maxBytes`. */
export async function readSmall(ref: string, maxBytes: number): Promise<Buffer> {
  if (!isUrl(ref)) {
    const path = localPath(ref);
    const st = await stat(path).catch((error: NodeJS.ErrnoException) => {
      throw new KeelError('not-found', `${path}: ${error.code === 'ENOENT' ? 'no such file' : error.message}`, { cause: error });
    });
    if (st.size > maxBytes) throw new KeelError('invalid-input', `${path} is ${st.size} bytes, more than the ${maxBytes} allowed`);
    return readFile(path);
  }
  const { stream } = await openSource(ref, 30_000);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    total += (chunk as Buffer).length;
    if (total > maxBytes) {
      stream.destroy();
      throw new KeelError('invalid-input', `${ref} is more than the ${maxBytes} bytes allowed`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
