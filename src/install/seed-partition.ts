/**
 * The cloud-config's place on an installed disk: a NoCloud seed, i.e. a vfat filesystem
 * labelled CIDATA holding `user-data` and `meta-data`, in a small GPT partition before the
 * ESP. keel's nocloud datasource (like cloud-init's) finds it by label on first boot, the
 * state partition stays last so it can grow, and the installer needs no mount to make it.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeelError } from '../errors.js';
import type { RunCommand } from '../host/process.js';

/** The vfat label NoCloud looks for. */
export const seedLabel = 'CIDATA';

/** Largest user-data the ~1000 KiB seed holds with room for the FAT itself. */
export const maxUserDataBytes = 900 * 1024;

/** The NoCloud meta-data document for a fresh install (pure). */
export function seedMetaData(instanceId: string): string {
  return `instance-id: ${instanceId}\n`;
}

/** An instance id for one install, from a time and random bytes passed in (pure). */
export function installInstanceId(nowMs: number, random: Uint8Array): string {
  return `keel-install-${nowMs.toString(36)}-${Buffer.from(random).toString('hex').slice(0, 8)}`;
}

/** Makes the vfat seed image of exactly `sizeBytes` holding the given files (mkfs.vfat and mcopy through `run`). */
export async function buildSeedImage(run: RunCommand, sizeBytes: number, files: Record<string, Uint8Array | string>): Promise<Buffer> {
  const dir = mkdtempSync(join(tmpdir(), 'keel-seed-'));
  try {
    const image = join(dir, 'seed.img');
    const mkfs = await run('mkfs.vfat', ['-n', seedLabel, '-C', image, String(Math.floor(sizeBytes / 1024))]);
    if (mkfs.exitCode !== 0) throw new KeelError('io', `cannot make the cloud-config seed: mkfs.vfat exited ${mkfs.exitCode}: ${mkfs.stderr.trim()}`);
    const paths: string[] = [];
    for (const [name, content] of Object.entries(files)) {
      const p = join(dir, name);
      writeFileSync(p, content, { mode: 0o600 });
      paths.push(p);
    }
    const r = await run('mcopy', ['-o', '-i', image, ...paths, '::'], { env: { MTOOLS_SKIP_CHECK: '1' } });
    if (r.exitCode !== 0) throw new KeelError('io', `cannot write the cloud-config seed: ${r.stderr.trim()}`);
    const buf = readFileSync(image);
    if (buf.length > sizeBytes) throw new KeelError('internal', `seed image is ${buf.length} bytes, the partition ${sizeBytes}`);
    return buf;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
