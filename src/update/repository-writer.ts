import { copyFile, mkdir, readFile, readdir, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Metadata, MetadataKind, MetaFile, Root, Snapshot, TargetFile, Targets, Timestamp } from '@tufjs/models';
import { KeelError } from '../errors.js';
import type { Bundle } from './release-bundle.js';
import { targetPathOf, type RolloutStep } from './release.js';
import type { SigningKey } from './signing-key.js';

/**
 * The publishing side: a static TUF repository any HTTP server (or a directory) can serve.
 *   OUT/metadata/N.root.json, root.json, targets.json, snapshot.json, timestamp.json
 *   OUT/targets/<channel>/<version>/<file>
 * One ed25519 key holds all four roles (threshold 1): enough for a test or small fleet;
 * `rotateRepositoryKey` moves every role to a new key through a root version signed by
 * both the old and the new key, which clients follow on their own (docs/update-keys.md).
 */
export interface PublishOptions {
  repoDir: string;
  key: SigningKey;
  bundle: Bundle;
  channel: string;
  nowMs: number;
  /** Lifetime of targets, snapshot and timestamp metadata. */
  expiresInDays?: number;
  rollout?: RolloutStep[];
  groups?: string[];
}

const specVersion = '1.0.31';
const dayMs = 86_400_000;

/** Adds a release to the repository (creating it if needed) and re-signs the metadata. */
export async function publishRelease(options: PublishOptions): Promise<{ targets: string[]; targetsVersion: number }> {
  const { repoDir, key, bundle, channel, nowMs } = options;
  const metadataDir = join(repoDir, 'metadata');
  await mkdir(metadataDir, { recursive: true });
  const root = (await latestRoot(metadataDir)) ?? (await writeRoot(metadataDir, newRoot(key, nowMs), [key]));
  const targetsRole = root.signed.roles.targets;
  if (!targetsRole?.keyIDs.includes(key.keyId))
    throw new KeelError('invalid-input', `signing key ${key.keyId.slice(0, 16)}… is not this repository's targets key; nothing published`);
  const old = await readRole<Targets>(metadataDir, MetadataKind.Targets);
  const targets = new Targets({ version: (old?.signed.version ?? 0) + 1, specVersion, expires: expiry(nowMs, options.expiresInDays ?? 30), targets: { ...(old?.signed.targets ?? {}) } });
  const added: string[] = [];
  for (const file of options.bundle.files) {
    const path = targetPathOf(channel, bundle.version, file.name);
    const dest = join(repoDir, 'targets', path);
    await mkdir(dirname(dest), { recursive: true });
    await copyFile(file.source, `${dest}.tmp`);
    await rename(`${dest}.tmp`, dest);
    const keel: Record<string, unknown> = { version: bundle.version, channel, role: file.role };
    if (file.role === 'slot' && options.rollout) keel.rollout = options.rollout.map((s) => ({ at: s.at, percent: s.percent }));
    if (file.role === 'slot' && options.groups) keel.groups = options.groups;
    targets.addTarget(new TargetFile({ path, length: file.size, hashes: { sha256: file.sha256 }, unrecognizedFields: { custom: { keel } as never } }));
    added.push(path);
  }
  await signChain(metadataDir, targets, key, nowMs, options.expiresInDays ?? 30);
  return { targets: added, targetsVersion: targets.version };
}

/**
 * Key rotation: a new root version naming only `newKey` for every role, signed by the old
 * root key (so clients trusting it accept the step) and by the new one (its own threshold),
 * then targets, snapshot and timestamp re-signed by the new key.
 */
export async function rotateRepositoryKey(repoDir: string, oldKey: SigningKey, newKey: SigningKey, nowMs: number): Promise<number> {
  const metadataDir = join(repoDir, 'metadata');
  const current = await latestRoot(metadataDir);
  if (!current) throw new KeelError('not-found', `${metadataDir}: no root metadata to rotate; publish a release first`);
  if (!current.signed.roles.root?.keyIDs.includes(oldKey.keyId))
    throw new KeelError('invalid-input', `key ${oldKey.keyId.slice(0, 16)}… is not the current root key; rotation refused`);
  const next = newRoot(newKey, nowMs, current.signed.version + 1);
  await writeRoot(metadataDir, next, [oldKey, newKey]);
  const old = await readRole<Targets>(metadataDir, MetadataKind.Targets);
  const targets = new Targets({ version: (old?.signed.version ?? 0) + 1, specVersion, expires: expiry(nowMs, 30), targets: { ...(old?.signed.targets ?? {}) } });
  await signChain(metadataDir, targets, newKey, nowMs, 30);
  return next.signed.version;
}

/** Re-signs targets → snapshot → timestamp, each version one higher than before. */
async function signChain(metadataDir: string, targets: Targets, key: SigningKey, nowMs: number, days: number): Promise<void> {
  const targetsMd = new Metadata(targets);
  targetsMd.sign((d) => key.sign(d));
  const targetsJson = JSON.stringify(targetsMd.toJSON());
  const oldSnapshot = await readRole<Snapshot>(metadataDir, MetadataKind.Snapshot);
  const snapshot = new Metadata(new Snapshot({ version: (oldSnapshot?.signed.version ?? 0) + 1, specVersion, expires: expiry(nowMs, days), meta: { 'targets.json': new MetaFile({ version: targets.version }) } }));
  snapshot.sign((d) => key.sign(d));
  const snapshotJson = JSON.stringify(snapshot.toJSON());
  const oldTimestamp = await readRole<Timestamp>(metadataDir, MetadataKind.Timestamp);
  const timestamp = new Metadata(
    new Timestamp({ version: (oldTimestamp?.signed.version ?? 0) + 1, specVersion, expires: expiry(nowMs, Math.min(days, 7)), snapshotMeta: new MetaFile({ version: snapshot.signed.version }) }),
  );
  timestamp.sign((d) => key.sign(d));
  // Write in the order a client reads backwards: targets, snapshot, then the timestamp that names them.
  await atomicWrite(join(metadataDir, 'targets.json'), targetsJson);
  await atomicWrite(join(metadataDir, 'snapshot.json'), snapshotJson);
  await atomicWrite(join(metadataDir, 'timestamp.json'), JSON.stringify(timestamp.toJSON()));
}

function newRoot(key: SigningKey, nowMs: number, version = 1): Metadata<Root> {
  const root = new Root({ version, specVersion, expires: expiry(nowMs, 365), consistentSnapshot: false });
  for (const role of ['root', 'targets', 'snapshot', 'timestamp']) root.addKey(key.key, role);
  return new Metadata(root);
}

async function writeRoot(metadataDir: string, root: Metadata<Root>, signers: SigningKey[]): Promise<Metadata<Root>> {
  for (const s of signers) root.sign((d) => s.sign(d), true);
  const json = JSON.stringify(root.toJSON());
  await atomicWrite(join(metadataDir, `${root.signed.version}.root.json`), json);
  await atomicWrite(join(metadataDir, 'root.json'), json);
  return root;
}

async function latestRoot(metadataDir: string): Promise<Metadata<Root> | undefined> {
  const names = (await readdir(metadataDir).catch(() => [] as string[])).filter((n) => /^\d+\.root\.json$/.test(n));
  const newest = names.sort((a, b) => parseInt(b, 10) - parseInt(a, 10))[0];
  if (!newest) return undefined;
  return Metadata.fromJSON(MetadataKind.Root, JSON.parse(await readFile(join(metadataDir, newest), 'utf8'))) as Metadata<Root>;
}

async function readRole<T extends Targets | Snapshot | Timestamp>(metadataDir: string, kind: MetadataKind): Promise<Metadata<T> | undefined> {
  const text = await readFile(join(metadataDir, `${kind}.json`), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  return Metadata.fromJSON(kind as MetadataKind.Targets, JSON.parse(text)) as unknown as Metadata<T>;
}

function expiry(nowMs: number, days: number): string {
  return new Date(nowMs + days * dayMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

async function atomicWrite(path: string, text: string): Promise<void> {
  await writeFile(`${path}.tmp`, text);
  await rename(`${path}.tmp`, path);
}
