import { mkdir, readFile, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { onPath } from '../host/fs-failure.js';
import { writeFileCrashSafe } from '../host/crash-safe-write.js';

/**
 * Crash-safe progress on disk, named like systemd-sysupdate does it: a download in flight is
 * `<version>.partial` (with the byte count known to be durable), a written and verified slot
 * waiting for its reboot is `<version>.pending`, and a release that booted and passed the
 * health gate is plain `<version>`. A restart reads these, never memory. Every phase is
 * written by this file's three `record…` functions, and only by them.
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

/** A slot write in flight: `written` bytes are durable in the target (slot-writer.ts, as it streams). */
export async function recordPartial(dir: string, record: Omit<ProgressRecord, 'phase'>): Promise<void> {
  await writeRecord(dir, { ...record, phase: 'partial' });
}

/** A slot written, verified and bootable, waiting for its reboot (stage-release.ts, its last step). */
export async function recordPending(dir: string, record: Omit<ProgressRecord, 'phase' | 'written'>): Promise<void> {
  await writeRecord(dir, { ...record, phase: 'pending', written: record.length });
}

/** The booted version passed its health gate (the agent marking it good); no record, nothing to do. */
export async function recordInstalled(dir: string, version: string, updatedAt: string): Promise<void> {
  const record = (await readRecords(dir)).find((r) => r.version === version);
  if (record) await writeRecord(dir, { ...record, phase: 'installed', updatedAt });
}

/**
 * Writes a record crash-safely and removes the same version's other phases. The rename must
 * survive a power cut: a record that names durable bytes but vanishes with its directory
 * entry sends the next run back to byte zero (found by the qemu e2e test).
 */
async function writeRecord(dir: string, record: ProgressRecord): Promise<void> {
  const path = join(dir, recordName(record.version, record.phase));
  await onPath(path, 'record update progress', async () => {
    await mkdir(dir, { recursive: true });
    await writeFileCrashSafe(path, Buffer.from(JSON.stringify(record) + '\n'));
  });
  for (const phase of Object.keys(suffix) as Phase[]) if (phase !== record.phase) await unlink(join(dir, recordName(record.version, phase))).catch(() => undefined);
}

/** Removes every record of a version (a failed or abandoned download). */
export async function removeRecords(dir: string, version: string): Promise<void> {
  for (const phase of Object.keys(suffix) as Phase[]) await unlink(join(dir, recordName(version, phase))).catch(() => undefined);
}
