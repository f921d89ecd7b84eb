import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { KeelError } from '../errors.js';
import { runCommand, type RunCommand } from '../host/process.js';
import { onPath } from '../host/fs-failure.js';
import { sha256OfFile, type Bundle, type BundleFile } from './release-bundle.js';
import { isReleaseFileName, maxWindowLog, type PayloadRole, type SlotFacts } from './release.js';

/**
 * The publishing side of compressed and delta payloads (docs/update.md, "Payloads"): the slot
 * zstd-compressed, and for each older bundle a `zstd --patch-from` delta from its slot. zstd
 * is Debian's binary run through the process edge; Node 20 has no zstd codec. The files are
 * made in `workDir`; publishRelease copies them into the repository and signs them with the
 * slot they produce (and the slot a delta starts from).
 */
export interface PayloadFile {
  role: PayloadRole;
  source: string;
  name: string;
  size: number;
  sha256: string;
  windowLog: number;
  slot: SlotFacts;
  from?: SlotFacts & { version: string };
}

export interface PayloadRequest {
  bundle: Bundle;
  /** Older bundles to make deltas from (`--delta-from`). */
  from?: Bundle[];
  workDir: string;
  /** zstd level, 1–19 (default 19: the full payload's goal is ≤ 65 % of the slot). */
  level?: number;
  run?: RunCommand;
}

/** zstd levels publish accepts (--ultra levels need more memory than a build host may have). */
export const zstdLevelRange = { min: 1, max: 19 } as const;

/** Window of a full payload: 128 MiB (a 1 GiB host decodes it comfortably). */
const fullWindowLog = 27;
const refused = 'nothing published';

/** The zstd window (log2) that covers `bytes`, at least 1 KiB. */
export function windowLogFor(bytes: number): number {
  return Math.max(10, Math.ceil(Math.log2(Math.max(bytes, 1))));
}

/** zstd arguments that compress SRC into OUT; with `patchFrom`, as a delta from that file. */
export function compressArgs(src: string, out: string, level: number, windowLog: number, patchFrom?: string): string[] {
  return ['-q', '-f', `-${level}`, `--long=${windowLog}`, ...(patchFrom ? [`--patch-from=${patchFrom}`, '--single-thread'] : ['-T0']), src, '-o', out];
}

/** Makes the compressed payload and one delta per older bundle. */
export async function makePayloads(req: PayloadRequest): Promise<PayloadFile[]> {
  const level = req.level ?? 19;
  if (!Number.isInteger(level) || level < 1 || level > 19) throw new KeelError('invalid-input', `zstd level ${level}: expected a whole number from 1 to 19; ${refused}`);
  const run = req.run ?? runCommand;
  const slot = slotOf(req.bundle);
  await onPath(req.workDir, 'create the work directory', () => mkdir(req.workDir, { recursive: true }), refused);
  const facts: SlotFacts = { length: slot.size, sha256: slot.sha256 };
  const out: PayloadFile[] = [];
  const full = await compress(run, slot, `${slot.name}.zst`, req.workDir, level, Math.min(fullWindowLog, windowLogFor(slot.size)));
  out.push({ role: 'slot-zstd', ...full, slot: facts });
  for (const old of req.from ?? []) {
    const base = slotOf(old);
    if (old.version === req.bundle.version) throw new KeelError('invalid-input', `--delta-from: bundle ${old.version} is the release being published; expected an older release; ${refused}`);
    if (out.some((p) => p.from?.sha256 === base.sha256)) continue; // the same old slot twice: one delta
    const windowLog = windowLogFor(Math.max(base.size, slot.size));
    if (windowLog > maxWindowLog) throw new KeelError('invalid-input', `slot of ${base.size} bytes: a delta needs a window above 2 GiB; ${refused}`);
    const delta = await compress(run, slot, `${slot.name}.from-${old.version}.zst`, req.workDir, level, windowLog, base.source);
    out.push({ role: 'slot-delta', ...delta, slot: facts, from: { version: old.version, length: base.size, sha256: base.sha256 } });
  }
  return out;
}

function slotOf(bundle: Bundle): BundleFile {
  const slot = bundle.files.find((f) => f.role === 'slot');
  if (!slot) throw new KeelError('invalid-input', `bundle ${bundle.version} has no slot image; ${refused}`);
  return slot;
}

async function compress(run: RunCommand, slot: BundleFile, name: string, dir: string, level: number, windowLog: number, patchFrom?: string) {
  if (!isReleaseFileName(name)) throw new KeelError('invalid-input', `payload name ${JSON.stringify(name)}: expected a plain file name; ${refused}`);
  const dest = join(dir, name);
  const r = await run('zstd', compressArgs(slot.source, dest, level, windowLog, patchFrom));
  if (r.exitCode !== 0) {
    const said = r.stderr.trim().split('\n').filter((l) => !/^(\[Optimal|- |Also consider)/.test(l)).at(-1) ?? `exit ${r.exitCode}`;
    throw new KeelError('io', `zstd could not make ${name}: ${said}; ${refused}`);
  }
  return { source: dest, name, size: (await onPath(dest, 'inspect', () => stat(dest), refused)).size, sha256: await onPath(dest, 'read', () => sha256OfFile(dest), refused), windowLog };
}
