/**
 * Where the installer reads the image, its manifest and the cloud-config from: a local
 * path, a file: URL or http(s). The image is streamed, never held in memory.
 */
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
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

/** Opens `ref` for streaming. Missing files and HTTP errors are KeelErrors. */
export async function openSource(ref: string, timeoutMs = 60_000): Promise<OpenedSource> {
  if (isUrl(ref)) {
    let res: Response;
    try {
      res = await fetch(ref, { signal: AbortSignal.timeout(timeoutMs) });
    } catch (error) {
      throw new KeelError('unavailable', `cannot fetch ${ref}: ${(error as Error).message}`, { cause: error });
    }
    if (res.status === 404) throw new KeelError('not-found', `${ref}: HTTP 404`);
    if (!res.ok || !res.body) throw new KeelError('unavailable', `${ref}: HTTP ${res.status} ${res.statusText}`);
    const length = Number(res.headers.get('content-length'));
    // The timeout above covers the headers; the body may take as long as it takes.
    return { stream: Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>), size: Number.isFinite(length) && length > 0 ? length : undefined };
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
