import { createHash } from 'node:crypto';
import { KeelError } from '../errors.js';
import type { Slot } from './agent-state.js';
import { installEntry, removeSlotEntries } from './esp.js';
import { openPayload, repositoryUrls } from './payload-source.js';
import { recordPending } from './progress-record.js';
import type { Release, ReleaseFile } from './release.js';
import { writeSlotPayload, type SlotPayloadResult } from './payload-install.js';
import { checkSlotVerity } from './slot-verity.js';
import type { RunCommand } from '../host/process.js';

/**
 * The one staging step, shared by the agent and `keel update install`: a chosen release's
 * slot image streamed into the target and verified, from a delta, the zstd payload or the
 * raw slot, whichever works first (payload-install.ts); with `boot`, the slot's
 * old boot entries removed first, then kernel and initramfs fetched and verified against the
 * signed metadata and a counted boot entry written on the ESP, carrying the release's signed
 * dm-verity root hash; last, the `.pending` record that says the slot is complete. The written
 * bytes are checked by `veritysetup` against that root hash before they count (slot-verity.ts);
 * a release without verity facts is refused unless the trust configuration allows it. A
 * failure at any step leaves no pending record and no entry that boots what was written.
 */
export interface StageRequest {
  /** The repository: an http(s) URL or a directory. */
  repo: string;
  /** Where the slot image goes: a file or a block device. */
  target: string;
  /** Slot name recorded with the progress (a|b), when the target is a slot of this host. */
  slot?: string;
  /** /var/lib/keel/update or a test directory: progress records. */
  stateDir: string;
  nowMs: number;
  onProgress?: (written: number, total: number) => void;
  /** The running slot (device or file): a delta is used only when its bytes are the delta's base. */
  source?: string;
  /** Told why a payload form was not used (no matching delta, a failed delta, …). */
  onNote?: (message: string) => void;
  /** Make the slot bootable (the agent); without it only the slot is staged (`keel update install`). */
  boot?: BootStaging;
  /** Accept a release whose signed metadata has no verity facts (ALLOW_RELEASES_WITHOUT_VERITY); its entry boots with `keel.verity=off`. */
  allowWithoutVerity?: boolean;
  /** The process edge veritysetup runs through (a fake in unit tests). */
  run?: RunCommand;
}

/** Where and how the staged slot becomes bootable. */
export interface BootStaging {
  /** The mounted ESP (/boot). */
  esp: string;
  slot: Slot;
  /** The kernel command line of the new entry. */
  options: string;
  /** systemd-boot's try counter of the new entry. */
  tries: number;
}

/** Stages `release` as described above; returns what the slot write did (resumed, bytes). */
export async function stageRelease(req: StageRequest, release: Release): Promise<SlotPayloadResult> {
  const urls = repositoryUrls(req.repo);
  const { boot } = req;
  if (boot && (!release.kernel || !release.initramfs))
    throw new KeelError('verification', `release ${release.version} has no kernel or initramfs target; cannot make it bootable`);
  refuseUnverified(release, req.allowWithoutVerity ?? false);
  const { verity } = release;
  // The slot is about to change: nothing may boot it until it is verified again.
  if (boot) await removeSlotEntries(boot.esp, boot.slot);
  const slot = boot?.slot ?? req.slot;
  const write = await writeSlotPayload(
    {
      urls,
      target: req.target,
      stateDir: req.stateDir,
      ...(slot !== undefined && { slot }),
      ...(req.source !== undefined && { source: req.source }),
      ...(req.onProgress !== undefined && { onProgress: req.onProgress }),
      ...(req.onNote !== undefined && { onNote: req.onNote }),
      ...(verity && { check: (path: string) => checkSlotVerity(path, verity, req.run) }),
    },
    release,
  );
  if (boot) {
    const kernel = await fetchVerified(urls.target(release.kernel!.path), release.kernel!);
    const initramfs = await fetchVerified(urls.target(release.initramfs!.path), release.initramfs!);
    const entryVerity = verity ? { rootHash: verity.rootHash, hashOffset: verity.hashOffset } : ('off' as const);
    await installEntry(boot.esp, { version: release.version, slot: boot.slot, options: boot.options, verity: entryVerity, kernel, initramfs, tries: boot.tries });
  }
  await recordPending(req.stateDir, {
    version: release.version,
    target: req.target,
    ...(slot !== undefined && { slot }),
    length: release.slot.length,
    sha256: release.slot.sha256,
    updatedAt: new Date(req.nowMs).toISOString(),
  });
  return write;
}

/** The option that accepts releases without verity facts, for messages. */
export const allowWithoutVeritySetting = 'ALLOW_RELEASES_WITHOUT_VERITY=true in update.conf (keel update install: --allow-without-verity)';

/** Refuses, before anything is written, a release whose verity facts are malformed, or missing and not allowed. */
function refuseUnverified(release: Release, allow: boolean): void {
  if (release.verityProblem)
    throw new KeelError('verification', `release ${release.version}: signed ${release.verityProblem}; refusing it, nothing installed`);
  if (!release.verity && !allow)
    throw new KeelError('verification', `release ${release.version}: its signed metadata has no dm-verity root hash, expected one on the slot target; refusing it, nothing installed (${allowWithoutVeritySetting} accepts such releases)`);
}

/** Fetches a small target into memory, checking its signed length and SHA-256. */
async function fetchVerified(url: string, file: ReleaseFile): Promise<Buffer> {
  const { stream } = await openPayload(url);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > file.length) throw new KeelError('verification', `${url}: longer than the signed ${file.length} bytes (tampered); not installed`);
    chunks.push(chunk);
  }
  const data = Buffer.concat(chunks);
  const digest = createHash('sha256').update(data).digest('hex');
  if (size !== file.length || digest !== file.sha256) throw new KeelError('verification', `${url}: ${size} bytes with SHA-256 ${digest}, signed ${file.length} bytes ${file.sha256} (tampered or truncated); not installed`);
  return data;
}
