import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Metadata, MetadataKind, type Root, type TargetFile } from '@tufjs/models';
import { BaseFetcher, Updater } from 'tuf-js';
import { DownloadHTTPError } from 'tuf-js/dist/error.js';
import { KeelError } from '../errors.js';
import { FetchStatusError, openPayload, repositoryUrls, type RepositoryUrls } from './payload-source.js';
import { tufKeyOfPublicPem } from './signing-key.js';
import { parseTufMetadata, type TufRole } from './metadata-shape.js';
import { errnoOf, fsFailure, onPath } from '../host/fs-failure.js';
import { writeFileCrashSafe } from '../host/crash-safe-write.js';

/**
 * The TUF client side: turns a repository and the pinned public key into verified targets.
 * tuf-js does the TUF workflow (root chain, timestamp → snapshot → targets, signatures,
 * expiry, version rollback of every role against what this node stored before). keel adds
 * the trust bootstrap: the first root it accepts is the lowest `N.root.json` that the pinned
 * key signs as a root key; from there TUF's own root rotation carries trust forward, which
 * is the key-rotation path (docs/update-keys.md).
 */
export interface TrustedTargets {
  targets: TargetFile[];
  rootVersion: number;
  targetsVersion: number;
  expires: string;
}

/**
 * Fetches TUF metadata for tuf-js over HTTP or from a directory, with a 404 tuf-js understands.
 * Each metadata document is shape-checked as it arrives (metadata-shape.ts); tuf-js turns the
 * errors of some roles into strings, so the first refusal is also kept to be reported as is.
 */
class KeelFetcher extends BaseFetcher {
  refused: KeelError | undefined;

  override async fetch(url: string): Promise<NodeJS.ReadableStream> {
    try {
      return (await openPayload(url)).stream;
    } catch (error) {
      if (error instanceof FetchStatusError) throw new DownloadHTTPError(error.message, error.statusCode);
      if (error instanceof KeelError) this.refused ??= error;
      throw error;
    }
  }

  override async downloadBytes(url: string, maxLength: number): Promise<Buffer> {
    const bytes = await super.downloadBytes(url, maxLength);
    const role = roleOfUrl(url);
    if (role) {
      try {
        parseTufMetadata(bytes.toString('utf8'), role, { label: displayOf(url), consequence: 'refusing to install', kind: 'verification' });
      } catch (error) {
        this.refused ??= error as KeelError;
        throw error;
      }
    }
    return bytes;
  }
}

/** The TUF role a metadata URL names (`N.root.json`, `timestamp.json`, …). */
function roleOfUrl(url: string): TufRole | undefined {
  const name = /([^/]+)\.json$/.exec(url)?.[1]?.replace(/^\d+\./, '');
  return name === 'root' || name === 'timestamp' || name === 'snapshot' || name === 'targets' ? name : undefined;
}

/** A URL as a person would name it: a file URL as its path. */
function displayOf(url: string): string {
  return url.startsWith('file:') ? fileURLToPath(url) : url;
}

const maxRootWalk = 64;

/** Refreshes metadata from `repo` into `metadataDir` and returns the verified targets. */
export async function fetchTrustedTargets(repo: string, trustPem: string, metadataDir: string): Promise<TrustedTargets> {
  const urls = repositoryUrls(repo);
  await onPath(metadataDir, 'create the metadata directory', () => mkdir(metadataDir, { recursive: true }), 'nothing installed');
  await bootstrapRoot(urls, trustPem, metadataDir);
  const fetcher = new KeelFetcher();
  const updater = new Updater({ metadataDir, metadataBaseUrl: urls.metadata, targetBaseUrl: urls.targets, fetcher, config: { fetchRetries: 0 } });
  try {
    await updater.refresh();
  } catch (error) {
    throw fetcher.refused ?? explain(error, repo);
  }
  // tuf-js persists a role's file only after verifying it, so the stored targets.json is trusted.
  const targetsMd = await readLocal(metadataDir, 'targets');
  const rootMd = await readLocal(metadataDir, 'root');
  return {
    targets: Object.values(targetsMd.signed.targets),
    rootVersion: rootMd.signed.version,
    targetsVersion: targetsMd.signed.version,
    expires: targetsMd.signed.expires,
  };
}

/** Reads a role this node stored after verifying it; a damaged file is named with a next step. */
async function readLocal<R extends 'root' | 'targets'>(metadataDir: string, role: R) {
  const path = join(metadataDir, `${role}.json`);
  const text = await onPath(path, 'read stored metadata', () => readFile(path, 'utf8'), 'nothing installed');
  return parseTufMetadata(text, role, { label: path, consequence: `this node's stored metadata is damaged: remove ${path} to trust the pinned key again; nothing installed` });
}

/** Installs the first trusted root into an empty metadata directory. */
async function bootstrapRoot(urls: RepositoryUrls, trustPem: string, metadataDir: string): Promise<void> {
  const rootPath = join(metadataDir, 'root.json');
  const stored = await readFile(rootPath, 'utf8').catch((error: unknown) => {
    if (errnoOf(error) === 'ENOENT') return undefined; // first contact: bootstrap from the pinned key
    throw fsFailure(error, rootPath, 'read the trusted root', 'nothing installed');
  });
  if (stored !== undefined) {
    // Already trusting a root: TUF's root chain moves it forward (tuf-js reads it unchecked).
    await readLocal(metadataDir, 'root');
    return;
  }
  const pinned = tufKeyOfPublicPem(trustPem);
  for (let n = 1; n <= maxRootWalk; n++) {
    let bytes: Buffer;
    try {
      bytes = await new KeelFetcher().downloadBytes(urls.metadataFile(`${n}.root.json`), 512 * 1024);
    } catch (error) {
      if (error instanceof DownloadHTTPError && error.statusCode === 404) break;
      throw explain(error, urls.metadata);
    }
    const root: Metadata<Root> = parseTufMetadata(bytes.toString('utf8'), 'root', { label: displayOf(urls.metadataFile(`${n}.root.json`)), consequence: 'refusing to install', kind: 'verification' });
    if (!root.signed.roles.root?.keyIDs.includes(pinned.keyID)) continue;
    try {
      pinned.verifySignature(root);
      root.verifyDelegate(MetadataKind.Root, root);
    } catch (error) {
      throw new KeelError('verification', `${n}.root.json: names the pinned key but its signature does not verify (${(error as Error).message}); refusing the repository`, { cause: error });
    }
    await onPath(rootPath, 'store the trusted root', () => writeFileCrashSafe(rootPath, bytes), 'nothing installed');
    return;
  }
  throw new KeelError('verification', `no root metadata in ${urls.metadata} is signed by the pinned key ${pinned.keyID.slice(0, 16)}…: wrong key or not a keel repository; refusing it`);
}

/** Turns tuf-js's errors into keel's, each saying what was wrong and that nothing was installed. */
function explain(error: unknown, where: string): KeelError {
  if (error instanceof KeelError) return error;
  const name = (error as Error)?.constructor?.name ?? 'Error';
  const message = (error as Error)?.message ?? String(error);
  const says: Record<string, string> = {
    ExpiredMetadataError: 'metadata has expired',
    EqualVersionError: 'metadata version did not move forward (replayed metadata)',
    BadVersionError: 'metadata version is lower than one trusted before (replayed or rolled-back metadata)',
    UnsignedMetadataError: 'metadata is not signed by the trusted key (wrong key or tampered metadata)',
    LengthOrHashMismatchError: 'metadata does not match its length or hash in the signed metadata (tampered)',
    DownloadLengthMismatchError: 'metadata is longer than allowed (tampered)',
    DownloadHTTPError: 'metadata is missing from the repository',
    ValueError: 'metadata is malformed',
    RepositoryError: 'metadata is inconsistent (tampered or replayed)',
  };
  // tuf-js wraps some failures in a plain Error; read those from the message.
  const byMessage: [RegExp, string][] = [
    [/answered 404/, says.DownloadHTTPError!],
    [/signed by \d+\/\d+ keys/, says.UnsignedMetadataError!],
    [/expired/i, says.ExpiredMetadataError!],
    [/version/i, says.BadVersionError!],
    [/hash|length/i, says.LengthOrHashMismatchError!],
  ];
  const what = says[name] ?? byMessage.find(([re]) => re.test(message))?.[1] ?? 'metadata failed verification';
  const kind = name === 'DownloadHTTPError' ? 'unavailable' : 'verification';
  // A JavaScript error from inside tuf-js says nothing a person can act on: keep it as the cause only.
  const internal = /^(TypeError|RangeError|ReferenceError|SyntaxError)$/.test(name) || /\b(TypeError|RangeError|ReferenceError):/.test(message);
  return new KeelError(kind, `${where}: ${what}${internal ? '' : `: ${message}`}; refusing to install`, { cause: error });
}
