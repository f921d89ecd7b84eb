import { createReadStream } from 'node:fs';
import { readFile, readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { createHash } from 'node:crypto';
import { KeelError } from '../errors.js';
import type { FileRole } from './release.js';
import { isVersion } from './version-order.js';

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
}

/** Reads and checks a bundle: every file present, sizes and hashes as the manifest says. */
export async function readBundle(dir: string): Promise<Bundle> {
  const manifestPath = join(dir, 'manifest.json');
  let manifest: Record<string, unknown>;
  try {
    manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new KeelError('invalid-input', `${manifestPath}: expected a release manifest (JSON), found none or unreadable; nothing published`, { cause: error });
  }
  const version = String(manifest.version ?? '');
  if (!isVersion(version)) throw new KeelError('invalid-input', `${manifestPath}: expected "version" like 1.2.0, found ${JSON.stringify(manifest.version)}; nothing published`);
  let entries = entriesOf(manifest.files ?? manifest.artifacts ?? manifest);
  // A manifest that lists no files: take the bundle's files by their names.
  if (entries.length === 0) entries = (await readdir(dir)).filter((n) => n !== 'manifest.json').map((n) => [n, { name: n }]);
  const files: BundleFile[] = [];
  for (const [key, raw] of entries) {
    const name = basename(String(raw.name ?? raw.path ?? raw.file ?? key));
    const role = roleOf(String(raw.role ?? key), name);
    if (!role) continue;
    const source = join(dir, String(raw.path ?? raw.file ?? raw.name ?? name));
    const size = (await stat(source).catch(() => undefined))?.size;
    if (size === undefined) throw new KeelError('invalid-input', `${source}: named by the manifest but missing; nothing published`);
    const sha256 = await sha256OfFile(source);
    const expectSize = raw.size ?? raw.length;
    if (expectSize !== undefined && Number(expectSize) !== size)
      throw new KeelError('verification', `${source}: ${size} bytes, the manifest says ${String(expectSize)}; nothing published`);
    if (typeof raw.sha256 === 'string' && raw.sha256.toLowerCase() !== sha256)
      throw new KeelError('verification', `${source}: SHA-256 ${sha256}, the manifest says ${raw.sha256}; nothing published`);
    files.push({ role, source, name, size, sha256 });
  }
  if (!files.some((f) => f.role === 'slot')) throw new KeelError('invalid-input', `${manifestPath}: names no slot image (role "slot", or a *.img/*.erofs/*.squashfs file); nothing published`);
  return { version, files };
}

/** SHA-256 of a file, streamed. */
export async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function entriesOf(files: unknown): [string, Record<string, unknown>][] {
  if (Array.isArray(files)) return files.filter((f) => f && typeof f === 'object').map((f, i) => [String((f as Record<string, unknown>).role ?? i), f as Record<string, unknown>]);
  if (files && typeof files === 'object')
    return Object.entries(files as Record<string, unknown>)
      .filter(([, v]) => v && typeof v === 'object' && !Array.isArray(v))
      .map(([k, v]) => [k, v as Record<string, unknown>]);
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
