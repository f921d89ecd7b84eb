/**
 * The disk image manifest the installer verifies against (written by `make image` as
 * `build/keel.img.json`): version, size in bytes and SHA-256 of the whole image. Pure.
 */
import { KeelError } from '../errors.js';

export interface DiskManifest {
  version: string;
  /** Image size in bytes. */
  size: number;
  /** Lowercase hex SHA-256 of the whole image. */
  sha256: string;
  /** GPT partition names the image carries, in order (informational). */
  partitions: string[];
}

/**
 * Where a manifest may sit beside an image reference (file path or URL), in order of
 * preference. A gzip'd image (`keel.img.gz`) is described by the raw image's manifest.
 */
export function manifestCandidates(imageRef: string): string[] {
  const raw = imageRef.replace(/\.gz$/, '');
  return [`${raw}.json`, `${raw}.manifest.json`];
}

/** Whether the reference names a gzip'd image, inflated while streaming. */
export function isGzipped(imageRef: string): boolean {
  return /\.gz$/.test(imageRef);
}

/** Parses and checks a `keel-disk-image` manifest; `source` names it in errors. */
export function parseDiskManifest(text: string, source: string): DiskManifest {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw new KeelError('invalid-input', `${source}: not JSON (${(error as Error).message}); cannot verify the image, refusing to install`, { cause: error });
  }
  const bad = (what: string) => new KeelError('invalid-input', `${source}: ${what}; cannot verify the image, refusing to install`);
  if (typeof doc !== 'object' || doc === null) throw bad('expected a JSON object');
  const d = doc as Record<string, unknown>;
  if (d.kind !== 'keel-disk-image') throw bad(`kind is ${JSON.stringify(d.kind)}, expected "keel-disk-image"`);
  const image = d.image as Record<string, unknown> | undefined;
  if (typeof image !== 'object' || image === null) throw bad('no "image" entry');
  if (typeof image.size !== 'number' || !Number.isSafeInteger(image.size) || image.size <= 0) throw bad(`image.size is ${JSON.stringify(image.size)}, expected a positive byte count`);
  if (typeof image.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(image.sha256)) throw bad(`image.sha256 is ${JSON.stringify(image.sha256)}, expected 64 lowercase hex digits`);
  return {
    version: typeof d.version === 'string' ? d.version : 'unknown',
    size: image.size,
    sha256: image.sha256,
    partitions: Array.isArray(d.partitions) ? d.partitions.filter((p): p is string => typeof p === 'string') : [],
  };
}
