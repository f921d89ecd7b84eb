import { mkdir, readFile, readdir, rename, unlink, writeFile, open } from 'node:fs/promises';
import { join } from 'node:path';
import { onPath } from '../host/fs-failure.js';

/**
 * Crash-safe progress on disk, named like systemd-sysupdate does it: a download in flight is
 * `<version>.partial` (with the byte count known to be durable), a written and verified slot
 * waiting for its reboot is `<version>.pending`, and a release that booted and passed the
 * health gate is plain `<version>`. A restart reads these, never memory.
 */
export type Phase = 'partial' | 'pending' | 'installed';

export interface ProgressRecord {
  version: string;
  phase: Phase;
  /** Where the slot image goes: a file or a block device. */
  target: string;
  /** Slot name when the agent writes a slot (a|b). */
  slot?: string;
  length: number;
  sha256: string;
  /** Bytes already durable in the target (fsynced before this record was written). */
  written: number;
  updatedAt: string;
}

const suffix: Record<Phase, string> = { partial: '.partial', pending: '.pending', installed: '' };

/** File name of a record in a phase. */
export function recordName(version: string, phase: Phase): string {
  return `${version}${suffix[phase]}`;
}

/** All records in a state directory (unreadable ones are skipped: they are rewritten on the next step). */
export async function readRecords(dir: string): Promise<ProgressRecord[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const out: ProgressRecord[] = [];
  for (const name of names) {
    if (name.endsWith('.tmp') || name.endsWith('.json')) continue;
    try {
      const record: unknown = JSON.parse(await readFile(join(dir, name), 'utf8'));
      if (isRecord(record) && recordName(record.version, record.phase) === name) out.push(record);
    } catch {
      /* not a record */
    }
  }
  return out;
}

/** A record of the right shape: a resume offset read from disk is trusted only within the length. */
function isRecord(r: unknown): r is ProgressRecord {
  if (typeof r !== 'object' || r === null) return false;
  const { version, phase, target, length, sha256, written, slot } = r as Record<string, unknown>;
  return (
    typeof version === 'string' &&
    (phase === 'partial' || phase === 'pending' || phase === 'installed') &&
    typeof target === 'string' &&
    typeof sha256 === 'string' &&
    Number.isSafeInteger(length) &&
    Number.isSafeInteger(written) &&
    (written as number) >= 0 &&
    (written as number) <= (length as number) &&
    (slot === undefined || typeof slot === 'string')
  );
}

/** Writes a record atomically (temp file, fsync, rename) and removes the same version's other phases. */
export async function writeRecord(dir: string, record: ProgressRecord): Promise<void> {
  const path = join(dir, recordName(record.version, record.phase));
  await onPath(path, 'record update progress', async () => {
    await mkdir(dir, { recursive: true });
    const tmp = `${path}.tmp`;
    await writeFile(tmp, JSON.stringify(record) + '\n');
    const handle = await open(tmp, 'r');
    await handle.sync();
    await handle.close();
    await rename(tmp, path);
    // The rename itself must survive a power cut: a record that names durable bytes but vanishes
    // with the directory entry sends the next run back to byte zero (found by the qemu e2e test).
    const dirHandle = await open(dir, 'r');
    await dirHandle.sync();
    await dirHandle.close();
  });
  for (const phase of Object.keys(suffix) as Phase[]) if (phase !== record.phase) await unlink(join(dir, recordName(record.version, phase))).catch(() => undefined);
}

/** Removes every record of a version (a failed or abandoned download). */
export async function removeRecords(dir: string, version: string): Promise<void> {
  for (const phase of Object.keys(suffix) as Phase[]) await unlink(join(dir, recordName(version, phase))).catch(() => undefined);
}
