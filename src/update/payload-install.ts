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
}

export type PayloadKind = PayloadAttempt['kind'];

/** What was written and how: the form used and the payload bytes this run downloaded. */
export interface SlotPayloadResult extends SlotWriteResult {
  payload: PayloadKind;
  downloaded: number;
}

export async function writeSlotPayload(req: SlotPayloadRequest, release: Release): Promise<SlotPayloadResult> {
  const lengths = baseLengthsOf(release);
  let hashes: Map<number, string> | undefined;
  if (req.source && lengths.length > 0) {
    hashes = await hashPrefixes(req.source, lengths).catch((error: unknown) => {
      req.onNote?.(`could not read the running slot ${req.source} (${(error as Error).message}); no delta tried`);
      return undefined;
    });
  }
  const plan = planPayloads(release, hashes);
  if (plan.note && lengths.length > 0) req.onNote?.(plan.note);
  for (const attempt of plan.attempts) {
    try {
      return await tryAttempt(req, release, attempt);
    } catch (error) {
      const resumable = error instanceof KeelError && error.kind === 'unavailable';
      if (attempt.kind === 'raw' || (attempt.kind === 'zstd' && resumable)) throw error;
      req.onNote?.(`${attempt.kind} payload ${attempt.payload.path} not used: ${(error as Error).message}; falling back`);
    }
  }
  throw new KeelError('internal', 'no payload attempt ran'); // the plan always ends with the raw slot
}

async function tryAttempt(req: SlotPayloadRequest, release: Release, attempt: PayloadAttempt): Promise<SlotPayloadResult> {
  const common = { target: req.target, stateDir: req.stateDir, ...(req.onProgress !== undefined && { onProgress: req.onProgress }) };
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
  const base = join(spoolDirOf(req.stateDir), `base-${from.sha256}`);
  try {
    await mkdir(spoolDirOf(req.stateDir), { recursive: true });
    await copyPrefix(req.source!, from.length, base, from.sha256);
    const r = await writePayload({ ...common, url, payload: attempt.payload, base });
    return { resumedFrom: r.resumedFrom, bytes: release.slot.length, payload: 'delta', downloaded: r.downloaded };
  } finally {
    await rm(base, { force: true }).catch(() => undefined);
  }
}
