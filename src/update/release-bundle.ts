import { createReadStream } from 'node:fs';
import { readFile, readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { createHash } from 'node:crypto';
import { KeelError } from '../errors.js';
import { isReleaseFileName, type FileRole } from './release.js';
import { onPath } from '../host/fs-failure.js';
import { describeJson, isJsonObject, parseJsonObject } from './json-shape.js';
import { realPathInside } from './contained-path.js';
import { isVersion } from './version-order.js';
import { verityFactsOf, type VerityFacts } from './verity-facts.js';

/**
 * A release bundle as `make image` leaves it in build/release/: the slot image, kernel,
 * initramfs and a manifest.json naming the version and each file's size and SHA-256. The
 * reader accepts the manifest's files as a list (`[{name|path, role?, size, sha256}]`) or as
 * an object keyed by role or name, and infers a role from the file name when none is given.
 */
export interface BundleFile {
  role: FileRole;
  /** Absolute path of the file in the bundle. */
  source: string;
  /** Name it gets in the repository. */
  name: string;
  size: number;
  sha256: string;
}

export interface Bundle {
  version: string;
  files: BundleFile[];
  /** The slot's dm-verity facts (manifest "verity"), signed with the slot target when publishing. */
  verity?: VerityFacts;
}

const refused = 'nothing published';

/** Reads and checks a bundle: every file present inside it, sizes and hashes as the manifest says. */
export async function readBundle(dir: string): Promise<Bundle> {
  const manifestPath = join(dir, 'manifest.json');
  const text = await onPath(manifestPath, 'read the release manifest', () => readFile(manifestPath, 'utf8'), refused);
  const manifest = parseJsonObject(text, { label: manifestPath, expected: 'a release manifest (a JSON object with "version" and "files")', consequence: refused });
  const version = manifest.version;
  if (typeof version !== 'string' || !isVersion(version))
    throw new KeelError('invalid-input', `${manifestPath}: "version": expected a version like 1.2.0, found ${describeJson(version)}; ${refused}`);
  let entries = entriesOf(manifest.files ?? manifest.artifacts ?? manifest, manifest.files !== undefined || manifest.artifacts !== undefined, manifestPath);
  // A manifest that lists no files: take the bundle's files by their names.
  if (entries.length === 0)
    entries = (await onPath(dir, 'list the bundle', () => readdir(dir), refused)).filter((n) => n !== 'manifest.json').map((n) => ({ key: n, raw: { name: n }, label: `${dir}/${n}` }));
  const files: BundleFile[] = [];
  for (const { key, raw, label } of entries) {
    const rel = raw.path ?? raw.file ?? raw.name ?? key;
    if (typeof rel !== 'string') throw new KeelError('invalid-input', `${label}: "path": expected a file name inside the bundle, found ${describeJson(rel)}; ${refused}`);
    const shown = raw.name ?? rel;
    const name = typeof shown === 'string' ? basename(shown) : '';
    const role = roleOf(String(raw.role ?? key), name);
    if (!role) continue;
    if (!isReleaseFileName(name)) throw new KeelError('invalid-input', `${label}: file name ${JSON.stringify(name)} is not a plain file name (letters, digits, ".", "_", "+", "~", "-"); ${refused}`);
    if (files.some((f) => f.name === name)) throw new KeelError('invalid-input', `${label}: a second file named ${JSON.stringify(name)}; each file of a release needs its own name; ${refused}`);
    const source = await realPathInside(dir, rel, label, refused);
    const info = await onPath(source, 'inspect', () => stat(source), refused);
    if (!info.isFile()) throw new KeelError('invalid-input', `${label}: ${source} is not a regular file; expected the file itself; ${refused}`);
    const sha256 = await onPath(source, 'read', () => sha256OfFile(source), refused);
    const expectSize = raw.size ?? raw.length;
    if (expectSize !== undefined && !(typeof expectSize === 'number' || (typeof expectSize === 'string' && /^[0-9]+$/.test(expectSize))))
      throw new KeelError('invalid-input', `${label}: "size": expected a whole number of bytes, found ${describeJson(expectSize)}; ${refused}`);
    if (expectSize !== undefined && Number(expectSize) !== info.size)
      throw new KeelError('verification', `${source}: ${info.size} bytes, the manifest says ${String(expectSize)}; ${refused}`);
    if (raw.sha256 !== undefined && typeof raw.sha256 !== 'string')
      throw new KeelError('invalid-input', `${label}: "sha256": expected a hex SHA-256, found ${describeJson(raw.sha256)}; ${refused}`);
    if (typeof raw.sha256 === 'string' && raw.sha256.toLowerCase() !== sha256)
      throw new KeelError('verification', `${source}: SHA-256 ${sha256}, the manifest says ${raw.sha256}; ${refused}`);
    files.push({ role, source, name, size: info.size, sha256 });
  }
  const slot = files.find((f) => f.role === 'slot');
  if (!slot) throw new KeelError('invalid-input', `${manifestPath}: names no slot image (role "slot", or a *.img/*.erofs/*.squashfs file); ${refused}`);
  if (manifest.verity === undefined) return { version, files };
  // Checked against the slot file now, so a repository never signs verity facts its slot cannot hold.
  const checked = verityFactsOf(manifest.verity, slot.size);
  if ('problem' in checked) throw new KeelError('invalid-input', `${manifestPath}: ${checked.problem}; ${refused}`);
  return { version, files, verity: checked.facts };
}

/** SHA-256 of a file, streamed. */
export async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

interface ManifestEntry {
  key: string;
  raw: Record<string, unknown>;
  /** How messages name the entry: `…/manifest.json: files[2]`. */
  label: string;
}

/** The manifest's file entries: a list, or an object keyed by role or name (given = "files" was present). */
function entriesOf(files: unknown, given: boolean, manifestPath: string): ManifestEntry[] {
  if (Array.isArray(files))
    return files.map((f, i) => {
      const label = `${manifestPath}: files[${i}]`;
      if (!isJsonObject(f)) throw new KeelError('invalid-input', `${label}: expected an object {name, role, size, sha256}, found ${describeJson(f)}; ${refused}`);
      return { key: String(f.role ?? i), raw: f, label };
    });
  if (isJsonObject(files)) {
    const out: ManifestEntry[] = [];
    for (const [key, v] of Object.entries(files)) {
      if (isJsonObject(v)) out.push({ key, raw: v, label: `${manifestPath}: files.${key}` });
      else if (given) throw new KeelError('invalid-input', `${manifestPath}: files.${key}: expected an object {name, size, sha256}, found ${describeJson(v)}; ${refused}`);
    }
    return out;
  }
  if (given) throw new KeelError('invalid-input', `${manifestPath}: "files": expected a list of {name, role, size, sha256} or an object keyed by role, found ${describeJson(files)}; ${refused}`);
  return [];
}

function roleOf(key: string, name: string): FileRole | undefined {
  const k = key.toLowerCase();
  if (k === 'slot' || k === 'root' || k === 'rootfs' || k === 'usr' || k === 'image') return 'slot';
  if (k === 'kernel' || k === 'vmlinuz' || k === 'linux') return 'kernel';
  if (k === 'initramfs' || k === 'initrd') return 'initramfs';
  const n = name.toLowerCase();
  if (n.startsWith('initr')) return 'initramfs';
  if (n.startsWith('vmlinuz') || n.includes('kernel') || n.startsWith('linux')) return 'kernel';
  if (/\.(img|erofs|squashfs|raw)$/.test(n) || n.startsWith('root')) return 'slot';
  return undefined;
}
