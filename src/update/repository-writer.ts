import { constants } from 'node:fs';
import { copyFile, mkdir, open, readdir, realpath, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Metadata, MetaFile, Root, Snapshot, TargetFile, Targets, Timestamp } from '@tufjs/models';
import { KeelError } from '../errors.js';
import type { Bundle } from './release-bundle.js';
import type { PayloadFile } from './payload-maker.js';
import { channelNameRule, isChannelName, isReleaseFileName, targetPathOf, type RolloutStep } from './release.js';
import type { SigningKey } from './signing-key.js';
import { errnoOf, fsFailure, onPath } from '../host/fs-failure.js';
import { syncDirectory, tempPathFor, writeFileCrashSafe } from '../host/crash-safe-write.js';
import { mkdirInside } from './contained-path.js';
import { parseTufMetadata } from './metadata-shape.js';

/**
 * The publishing side: a static TUF repository any HTTP server (or a directory) can serve.
 *   OUT/metadata/N.root.json, root.json, targets.json, snapshot.json, timestamp.json
 *   OUT/targets/<channel>/<version>/<file>
 * One ed25519 key holds all four roles (threshold 1): enough for a test or small fleet;
 * `rotateRepositoryKey` moves every role to a new key through a root version signed by
 * both the old and the new key, which clients follow on their own (docs/update-keys.md).
 * Every write stays inside the repository: names are checked, directories resolved after
 * symlinks (contained-path.ts), and files replaced by rename, never written through a link.
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
  /** Compressed and delta forms of the slot (payload-maker.ts), signed beside it. */
  payloads?: PayloadFile[];
}

const specVersion = '1.0.31';
const dayMs = 86_400_000;
/** The accepted metadata lifetime: at least a day, at most ten years. */
export const expiresDaysRange = { min: 1, max: 3650, unit: 'days' } as const;
const refused = 'nothing published';

/** Refuses what would leave the repository or publish dead metadata, before anything is written. */
function checkPublishOptions(options: PublishOptions): void {
  if (!isChannelName(options.channel))
    throw new KeelError('invalid-input', `channel ${JSON.stringify(options.channel)}: expected ${channelNameRule}; ${refused}`);
  const days = options.expiresInDays;
  if (days !== undefined && !(Number.isInteger(days) && days >= expiresDaysRange.min && days <= expiresDaysRange.max))
    throw new KeelError('invalid-input', `expiry of ${String(days)} days: expected a whole number from ${expiresDaysRange.min} to ${expiresDaysRange.max}; ${refused}`);
  for (const file of [...options.bundle.files, ...(options.payloads ?? [])])
    if (!isReleaseFileName(file.name)) throw new KeelError('invalid-input', `release file name ${JSON.stringify(file.name)}: expected a plain file name; ${refused}`);
}

/** The repository directory, created if needed, as its real path (the bound of every write). */
async function repositoryRoot(repoDir: string): Promise<string> {
  await onPath(repoDir, 'create the repository directory', () => mkdir(repoDir, { recursive: true }), refused);
  return onPath(repoDir, 'resolve', () => realpath(repoDir), refused);
}

/** Adds a release to the repository (creating it if needed) and re-signs the metadata. */
export async function publishRelease(options: PublishOptions): Promise<{ targets: string[]; targetsVersion: number }> {
  const { key, bundle, channel, nowMs } = options;
  checkPublishOptions(options);
  const repoDir = await repositoryRoot(options.repoDir);
  const metadataDir = await mkdirInside(repoDir, 'metadata', refused);
  const root = (await latestRoot(metadataDir)) ?? (await writeRoot(metadataDir, newRoot(key, nowMs), [key]));
  const targetsRole = root.signed.roles.targets;
  if (!targetsRole?.keyIDs.includes(key.keyId))
    throw new KeelError('invalid-input', `signing key ${key.keyId.slice(0, 16)}… is not this repository's targets key; ${refused}`);
  const old = await readRole(metadataDir, 'targets');
  const targets = new Targets({ version: (old?.signed.version ?? 0) + 1, specVersion, expires: expiry(nowMs, options.expiresInDays ?? 30), targets: { ...(old?.signed.targets ?? {}) } });
  const releaseDir = await mkdirInside(repoDir, join('targets', channel, bundle.version), refused);
  const added: string[] = [];
  for (const file of options.bundle.files) {
    const path = targetPathOf(channel, bundle.version, file.name);
    await atomicCopy(file.source, join(releaseDir, file.name));
    const keel: Record<string, unknown> = { version: bundle.version, channel, role: file.role };
    if (file.role === 'slot' && options.rollout) keel.rollout = options.rollout.map((s) => ({ at: s.at, percent: s.percent }));
    if (file.role === 'slot' && options.groups) keel.groups = options.groups;
    if (file.role === 'slot' && bundle.verity) keel.verity = { ...bundle.verity };
    targets.addTarget(new TargetFile({ path, length: file.size, hashes: { sha256: file.sha256 }, unrecognizedFields: { custom: { keel } as never } }));
    added.push(path);
  }
  for (const p of options.payloads ?? []) {
    const path = targetPathOf(channel, bundle.version, p.name);
    await atomicCopy(p.source, join(releaseDir, p.name));
    const keel: Record<string, unknown> = { version: bundle.version, channel, role: p.role, slot: p.slot, windowLog: p.windowLog, ...(p.from && { from: p.from }) };
    targets.addTarget(new TargetFile({ path, length: p.size, hashes: { sha256: p.sha256 }, unrecognizedFields: { custom: { keel } as never } }));
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
  const metadataDir = await mkdirInside(await onPath(repoDir, 'resolve', () => realpath(repoDir), 'nothing rotated'), 'metadata', 'nothing rotated');
  const current = await latestRoot(metadataDir);
  if (!current) throw new KeelError('not-found', `${metadataDir}: no root metadata to rotate; publish a release first`);
  if (!current.signed.roles.root?.keyIDs.includes(oldKey.keyId))
    throw new KeelError('invalid-input', `key ${oldKey.keyId.slice(0, 16)}… is not the current root key; rotation refused`);
  const next = newRoot(newKey, nowMs, current.signed.version + 1);
  await writeRoot(metadataDir, next, [oldKey, newKey]);
  const old = await readRole(metadataDir, 'targets');
  const targets = new Targets({ version: (old?.signed.version ?? 0) + 1, specVersion, expires: expiry(nowMs, 30), targets: { ...(old?.signed.targets ?? {}) } });
  await signChain(metadataDir, targets, newKey, nowMs, 30);
  return next.signed.version;
}

/** Re-signs targets → snapshot → timestamp, each version one higher than before. */
async function signChain(metadataDir: string, targets: Targets, key: SigningKey, nowMs: number, days: number): Promise<void> {
  const targetsMd = new Metadata(targets);
  targetsMd.sign((d) => key.sign(d));
  const targetsJson = JSON.stringify(targetsMd.toJSON());
  const oldSnapshot = await readRole(metadataDir, 'snapshot');
  const snapshot = new Metadata(new Snapshot({ version: (oldSnapshot?.signed.version ?? 0) + 1, specVersion, expires: expiry(nowMs, days), meta: { 'targets.json': new MetaFile({ version: targets.version }) } }));
  snapshot.sign((d) => key.sign(d));
  const snapshotJson = JSON.stringify(snapshot.toJSON());
  const oldTimestamp = await readRole(metadataDir, 'timestamp');
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
  const names = await readdir(metadataDir).catch((error: unknown) => {
    if (errnoOf(error) === 'ENOENT') return [] as string[];
    throw fsFailure(error, metadataDir, 'list the metadata', refused);
  });
  const newest = names.filter((n) => /^\d+\.root\.json$/.test(n)).sort((a, b) => parseInt(b, 10) - parseInt(a, 10))[0];
  if (!newest) return undefined;
  const path = join(metadataDir, newest);
  return parseTufMetadata((await readOwnFile(path))!, 'root', { label: path, consequence: `the repository's metadata is damaged; ${refused}` });
}

async function readRole<R extends 'targets' | 'snapshot' | 'timestamp'>(metadataDir: string, role: R) {
  const path = join(metadataDir, `${role}.json`);
  const text = await readOwnFile(path);
  return text === undefined ? undefined : parseTufMetadata(text, role, { label: path, consequence: `the repository's metadata is damaged; ${refused}` });
}

/** Reads a file of the repository itself, not through a symlink (which could point anywhere); missing = undefined. */
async function readOwnFile(path: string): Promise<string | undefined> {
  let handle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return undefined;
    if (errnoOf(error) === 'ELOOP') throw new KeelError('unsafe-path', `${path}: is a symlink; expected the repository's own file; ${refused}`, { cause: error });
    throw fsFailure(error, path, 'read', refused);
  }
  try {
    return await onPath(path, 'read', () => handle.readFile('utf8'), refused);
  } finally {
    await handle.close();
  }
}

function expiry(nowMs: number, days: number): string {
  return new Date(nowMs + days * dayMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Replaces `path` with `text` crash-safely (host/crash-safe-write.ts: a new temp file, never a link). */
async function atomicWrite(path: string, text: string): Promise<void> {
  await onPath(path, 'write', () => writeFileCrashSafe(path, Buffer.from(text)), refused);
}

/**
 * Copies a bundle file into the repository the way writeFileCrashSafe writes (a new temp name
 * beside it, fsync, rename, directory fsync) without holding a slot image in memory.
 */
async function atomicCopy(source: string, dest: string): Promise<void> {
  const tmp = tempPathFor(dest);
  await onPath(dest, 'write', async () => {
    try {
      await copyFile(source, tmp, constants.COPYFILE_EXCL);
      const handle = await open(tmp, 'r');
      await handle.sync().finally(() => handle.close());
      await rename(tmp, dest);
    } catch (error) {
      await rm(tmp, { force: true }).catch(() => undefined);
      throw error;
    }
    await syncDirectory(dirname(dest));
  }, refused);
}
