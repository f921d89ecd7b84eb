import type { CompressedPayload, DeltaPayload, Release } from './release.js';

/**
 * Which transport form of a release's slot to try, in order: pure, from the verified release
 * and the hashes of the running slot's leading bytes (the edge reads them). A delta is tried
 * only when the running slot's first `from.length` bytes hash to `from.sha256`: the running
 * version is never trusted for this. Then the compressed full payload, then the raw slot.
 * Each later attempt is the fallback of the one before (stage-release.ts).
 */
export type PayloadAttempt = { kind: 'delta'; payload: DeltaPayload } | { kind: 'zstd'; payload: CompressedPayload } | { kind: 'raw' };

export interface PayloadPlan {
  attempts: PayloadAttempt[];
  /** Why no delta is tried, when there is none to try; for the log. */
  note?: string;
}

/** The lengths of running-slot prefix to hash: one per distinct delta base length. */
export function baseLengthsOf(release: Release): number[] {
  return [...new Set((release.deltas ?? []).map((d) => d.from.length))];
}

/**
 * Orders the attempts. `runningHashes` maps a prefix length to the SHA-256 of that many
 * leading bytes of the running slot; a length the slot could not supply is absent.
 */
export function planPayloads(release: Release, runningHashes: ReadonlyMap<number, string> | undefined): PayloadPlan {
  const attempts: PayloadAttempt[] = [];
  const deltas = release.deltas ?? [];
  let note: string | undefined;
  if (deltas.length === 0) note = `release ${release.version} offers no delta`;
  else if (!runningHashes) note = 'the running slot is not known here: no delta tried';
  else {
    // Several can match (a slot whose first bytes are an older, shorter slot): the longest base
    // is the most specific, and the smallest delta of those the cheapest.
    const match = deltas
      .filter((d) => runningHashes.get(d.from.length) === d.from.sha256)
      .sort((a, b) => b.from.length - a.from.length || a.length - b.length)[0];
    if (match) attempts.push({ kind: 'delta', payload: match });
    else note = `no delta of ${release.version} starts from the running slot (offered from ${deltas.map((d) => `${d.from.version} ${d.from.sha256.slice(0, 12)}…`).join(', ')})`;
  }
  if (release.compressed) attempts.push({ kind: 'zstd', payload: release.compressed });
  attempts.push({ kind: 'raw' });
  return note === undefined ? { attempts } : { attempts, note };
}
