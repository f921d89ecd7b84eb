import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { resolve } from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import type { Readable } from 'node:stream';
import { KeelError } from '../errors.js';
import { fsFailure } from '../host/fs-failure.js';

/**
 * Where update bytes come from: an HTTP(S) server or a plain directory. Both can start at an
 * offset (HTTP `Range: bytes=N-`) so an interrupted download resumes instead of restarting.
 * The edge only moves bytes; hashing and length checks belong to the caller.
 */
export interface OpenedPayload {
  stream: Readable;
  /** The offset the stream actually starts at: 0 when a server ignored the Range header. */
  offset: number;
}

/**
 * A repository's URLs, joined here and nowhere else: `metadata/` for TUF documents and
 * `targets/` for release files. An `http(s)://` location is kept, a directory becomes `file://`.
 */
export interface RepositoryUrls {
  metadata: string;
  targets: string;
  /** A metadata document, e.g. `1.root.json`. */
  metadataFile(name: string): string;
  /** A target by its path in the signed metadata, e.g. `stable/2.0.0/root.img`. */
  target(path: string): string;
}

export function repositoryUrls(repo: string): RepositoryUrls {
  const base = /^(https?|file):\/\//.test(repo) ? (repo.endsWith('/') ? repo : `${repo}/`) : pathToFileURL(resolve(repo)).toString() + '/';
  const metadata = joinUrl(base, 'metadata');
  const targets = joinUrl(base, 'targets');
  return { metadata, targets, metadataFile: (name) => joinUrl(metadata, name), target: (path) => joinUrl(targets, path) };
}

/** Joins a base URL and a relative path (each segment URL-escaped). */
function joinUrl(base: string, path: string): string {
  const b = base.endsWith('/') ? base : `${base}/`;
  return b + path.split('/').filter(Boolean).map(encodeURIComponent).join('/');
}

/** A fetch failure that carries the HTTP status (404 matters to the TUF root walk). */
export class FetchStatusError extends KeelError {
  readonly statusCode: number;
  constructor(url: string, statusCode: number) {
    super(statusCode === 404 ? 'not-found' : 'unavailable', `${url}: server answered ${statusCode}, expected 200`);
    this.statusCode = statusCode;
  }
}

/** Opens `url` for reading from `offset` (0 = the whole file). */
export async function openPayload(url: string, offset = 0, timeoutMs = 30_000): Promise<OpenedPayload> {
  if (url.startsWith('file:')) {
    const path = fileURLToPath(url);
    try {
      const info = await stat(path);
      // A directory or device in a directory repository would fail mid-stream with Node's own text.
      if (!info.isFile()) throw new KeelError('invalid-input', `${path}: is not a regular file; expected repository content; refusing it`);
      const size = info.size;
      return { stream: createReadStream(path, { start: Math.min(offset, size), highWaterMark: 1 << 20 }), offset: Math.min(offset, size) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new FetchStatusError(url, 404);
      throw fsFailure(error, path, 'read');
    }
  }
  if (!/^https?:/.test(url)) throw new KeelError('invalid-input', `${url}: expected an http(s) URL or a directory`);
  const get = url.startsWith('https:') ? https.get : http.get;
  return new Promise((resolvePromise, reject) => {
    let response: http.IncomingMessage | undefined;
    const request = get(url, { headers: offset > 0 ? { range: `bytes=${offset}-` } : {}, timeout: timeoutMs }, (answer) => {
      response = answer;
      const status = response.statusCode ?? 0;
      if (status === 206 && offset > 0) {
        const start = /bytes (\d+)-/.exec(String(response.headers['content-range'] ?? ''))?.[1];
        resolvePromise({ stream: response, offset: start === undefined ? offset : Number(start) });
      } else if (status === 200) {
        resolvePromise({ stream: response, offset: 0 });
      } else if (status === 416) {
        response.resume();
        reject(new KeelError('verification', `${url}: the server has fewer bytes than the ${offset} already written; expected more, restarting from zero`));
      } else {
        response.resume();
        reject(new FetchStatusError(url, status));
      }
    });
    request.on('timeout', () => {
      // Bytes waiting in the response are ours to read: the reader is slow (a slot written under
      // load, zstd expanding a delta), not the network. The socket idles because we stopped it.
      if (response !== undefined && response.readableLength > 0) return void request.setTimeout(timeoutMs);
      request.destroy(new KeelError('unavailable', `${url}: no answer within ${timeoutMs} ms`));
    });
    request.on('error', (error) =>
      reject(error instanceof KeelError ? error : new KeelError('unavailable', `${url}: ${error.message}; will retry later`, { cause: error })),
    );
  });
}
