import { KeelError } from '../errors.js';
import { runCommand, type RunCommand } from '../host/process.js';
import { parseVerityDump, superblockMismatch, type VerityFacts } from './verity-facts.js';

/**
 * The check of a written slot against its signed dm-verity facts, before anything may boot it:
 * Debian's `veritysetup` is the oracle (keel hashes no blocks itself). `dump` reads the
 * superblock at the signed offset and every field it holds must be the signed one (the root
 * hash does not cover the superblock, whose data block count decides how much the kernel
 * maps); then `verify` walks the whole tree over the data, the way the initramfs will open it.
 */
export async function checkSlotVerity(path: string, facts: VerityFacts, run: RunCommand = runCommand): Promise<void> {
  const offset = `--hash-offset=${facts.hashOffset}`;
  const dump = await veritysetup(run, ['dump', path, offset]);
  const superblock = dump.exitCode === 0 ? parseVerityDump(dump.stdout) : undefined;
  if (!superblock)
    throw new KeelError('verification', `${path}: no dm-verity superblock at byte ${facts.hashOffset}, where the signed release has one (${lastLine(dump.stderr) || 'veritysetup dump found none'}); the slot is damaged or not this release`);
  const mismatch = superblockMismatch(superblock, facts);
  if (mismatch) throw new KeelError('verification', `${path}: the dm-verity superblock disagrees with the signed release: ${mismatch} (tampered or damaged)`);
  const verify = await veritysetup(run, ['verify', path, path, facts.rootHash, offset]);
  if (verify.exitCode !== 0)
    throw new KeelError('verification', `${path}: veritysetup verify found the written slot does not match the signed root hash ${facts.rootHash} (${lastLine(verify.stderr) || `exit ${verify.exitCode}`}): its data or hash tree is tampered or damaged`);
}

async function veritysetup(run: RunCommand, args: string[]) {
  try {
    return await run('veritysetup', args);
  } catch (error) {
    if (error instanceof KeelError && error.kind === 'not-found')
      throw new KeelError('not-found', `veritysetup (Debian's cryptsetup-bin) is not installed: cannot check the slot's dm-verity tree against the signed root hash`, { cause: error });
    throw error;
  }
}

function lastLine(text: string): string {
  return text.trim().split('\n').at(-1)?.trim() ?? '';
}
