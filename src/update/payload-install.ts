import { join } from 'node:path';
import { mkdir, rm } from 'node:fs/promises';
import { KeelError } from '../errors.js';
import type { RepositoryUrls } from './payload-source.js';
import { baseLengthsOf, planPayloads, type PayloadAttempt } from './payload-choice.js';
import { spoolDirOf, writePayload } from './payload-writer.js';
import { copyPrefix, hashPrefixes } from './slot-prefix.js';
import type { Release } from './release.js';
import { writeSlot, type SlotWriteResult } from './slot-writer.js';

/**
 * Writes a release's slot by the best payload that works (payload-choice.ts): a delta when
 * the running slot is its base, else the zstd payload, else the raw slot. Every form ends
 * with the same check, the signed slot's length and SHA-256 on the bytes written and read
 * back. A delta that fails in any way falls back to the next form at once; the compressed
 * form falls back too, except when its download was only interrupted (kept to resume).
 */
export interface SlotPayloadRequest {
  urls: RepositoryUrls;
  target: string;
  slot?: string;
  stateDir: string;
  /** The running slot (device or file); without it no delta is tried. */
  source?: string;
  onProgress?: (written: number, total: number) => void;
  /** Told why a form was not used or failed. */
  onNote?: (message: string) => void;
  /** Run on the written, hash-verified bytes before they count (dm-verity, slot-verity.ts). */
  check?: (path: string) => Promise<void>;
}

export type PayloadKind = PayloadAttempt['kind'];

/** What was written and how: the form used and the payload bytes this run downloaded. */
export interface SlotPayloadResult extends SlotWriteResult {
  payload: PayloadKind;
  downloaded: number;
}

export async function writeSlotPayload(req: SlotPayloadRequest, release: Release): Promise<SlotPayloadResult> {
  const lengths = baseLengthsOf(release);
  const base = join(spoolDirOf(req.stateDir), 'delta-base');
  let hashes: Map<number, string> | undefined;
  try {
    if (req.source && lengths.length > 0) hashes = await runningHashes(req.source, lengths, base, req.stateDir).catch((error: unknown) => {
      req.onNote?.(`could not take the running slot ${req.source} as a delta base (${(error as Error).message}); no delta tried`);
      return undefined;
    });
    const plan = planPayloads(release, hashes);
    if (plan.note && lengths.length > 0) req.onNote?.(plan.note);
    // Every form yields the same signed bytes, so a failed check of them would fail again: no fallback.
    let checkFailed = false;
    const { check } = req;
    const noted = (path: string) =>
      check!(path).catch((error: unknown) => {
        checkFailed = true;
        throw error;
      });
    const checked: SlotPayloadRequest = check ? { ...req, check: noted } : req;
    for (const attempt of plan.attempts) {
      try {
        return await tryAttempt(checked, release, attempt, base);
      } catch (error) {
        const resumable = error instanceof KeelError && error.kind === 'unavailable';
        // The raw writer says what it left behind; a compressed form's check failure says it here.
        if (checkFailed && attempt.kind !== 'raw') throw new KeelError((error as KeelError).kind, `${(error as Error).message}; not made bootable, nothing installed`, { cause: error });
        if (checkFailed || attempt.kind === 'raw' || (attempt.kind === 'zstd' && resumable)) throw error;
        req.onNote?.(`${attempt.kind} payload ${attempt.payload.path} not used: ${(error as Error).message}; falling back`);
      }
      await rm(base, { force: true });
    }
    throw new KeelError('internal', 'no payload attempt ran'); // the plan always ends with the raw slot
  } finally {
    await rm(base, { force: true }).catch(() => undefined);
  }
}

/**
 * The running slot's prefix hashes. With one base length (the usual case) the prefix is copied
 * into `base` while it is hashed, one read for both, since zstd needs it as a regular file;
 * with several, each is hashed and the matching one copied later (tryAttempt).
 */
async function runningHashes(source: string, lengths: number[], base: string, stateDir: string): Promise<Map<number, string>> {
  await mkdir(spoolDirOf(stateDir), { recursive: true });
  if (lengths.length > 1) return hashPrefixes(source, lengths);
  return new Map([[lengths[0]!, await copyPrefix(source, lengths[0]!, base)]]);
}

async function tryAttempt(req: SlotPayloadRequest, release: Release, attempt: PayloadAttempt, base: string): Promise<SlotPayloadResult> {
  const common = { target: req.target, stateDir: req.stateDir, ...(req.onProgress !== undefined && { onProgress: req.onProgress }), ...(req.check && { check: req.check }) };
  if (attempt.kind === 'raw') {
    const r = await writeSlot({ ...common, url: req.urls.target(release.slot.path), file: release.slot, version: release.version, ...(req.slot !== undefined && { slot: req.slot }) });
    return { ...r, payload: 'raw', downloaded: r.bytes };
  }
  const url = req.urls.target(attempt.payload.path);
  if (attempt.kind === 'zstd') {
    const r = await writePayload({ ...common, url, payload: attempt.payload });
    return { resumedFrom: r.resumedFrom, bytes: release.slot.length, payload: 'zstd', downloaded: r.downloaded };
  }
  const { from } = attempt.payload;
  if (baseLengthsOf(release).length > 1) {
    // Several bases were only hashed: copy this one now, and check it is still the one hashed.
    const digest = await copyPrefix(req.source!, from.length, base);
    if (digest !== from.sha256) throw new KeelError('verification', `${req.source}: its first ${from.length} bytes changed since they were hashed; not used`);
  }
  const r = await writePayload({ ...common, url, payload: attempt.payload, base });
  return { resumedFrom: r.resumedFrom, bytes: release.slot.length, payload: 'delta', downloaded: r.downloaded };
}
