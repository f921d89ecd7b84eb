import { mkdir, readFile, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { KeelError } from '../errors.js';
import { renameCrashSafe, syncDirectory, writeFileCrashSafe } from '../host/crash-safe-write.js';
import { errnoOf } from '../host/fs-failure.js';
import type { Slot } from './agent-state.js';
import { armedFileName, entryFileName, entryHealth, entryText, parseEntryName, parseEntryText, slotOfEntry, type EntryHealth, type EntryVerity } from './boot-entry.js';

/**
 * The EFI system partition as the updater uses it (mounted at /boot on keel): per-slot
 * kernels under keel/<slot>/, entries under loader/entries/, loader.conf. Every write is
 * host/crash-safe-write.ts's, so a crash leaves the old file or the new one. The ESP is vfat:
 * no owner is passed, so no chown is tried (vfat has no owners); its chmod to 0644 is one
 * vfat leaves to the mount's masks without an error.
 */
export interface EspEntry {
  fileName: string;
  id: string;
  version?: string;
  slot?: Slot;
  health: EntryHealth;
  fields: Record<string, string>;
}

/** The entries on the ESP, newest version first. */
export async function listEntries(esp: string): Promise<EspEntry[]> {
  const dir = join(esp, 'loader/entries');
  const names = await readdir(dir).catch(() => [] as string[]);
  const out: EspEntry[] = [];
  for (const fileName of names) {
    const name = parseEntryName(fileName);
    if (!name) continue;
    const fields = parseEntryText(await readFile(join(dir, fileName), 'utf8').catch(() => ''));
    const entry: EspEntry = { fileName, id: name.id, health: entryHealth(name), fields };
    const version = fields.version ?? name.version;
    if (version) entry.version = version;
    const slot = slotOfEntry(fields);
    if (slot) entry.slot = slot;
    out.push(entry);
  }
  return out;
}

/** Removes the entries that boot `slot` (before that slot is overwritten) and any `default` pointing at them. */
export async function removeSlotEntries(esp: string, slot: Slot): Promise<void> {
  for (const entry of await listEntries(esp)) if (entry.slot === slot) await unlink(join(esp, 'loader/entries', entry.fileName));
  await setDefault(esp, undefined);
  await syncEntries(esp);
}

/** Puts a release's kernel and initramfs for `slot` on the ESP and adds its entry with `tries` attempts. */
export async function installEntry(esp: string, input: { version: string; slot: Slot; options: string; verity?: EntryVerity; kernel: Buffer; initramfs: Buffer; tries: number }): Promise<string> {
  // Built first: a hostile root hash or offset is refused before anything lands on the ESP.
  const text = entryText(input.version, input.slot, input.options, input.verity);
  const kernelDir = join(esp, 'keel', input.slot);
  await mkdir(kernelDir, { recursive: true });
  await writeFileCrashSafe(join(kernelDir, 'vmlinuz'), input.kernel);
  await writeFileCrashSafe(join(kernelDir, 'initramfs.img'), input.initramfs);
  await mkdir(join(esp, 'loader/entries'), { recursive: true });
  const fileName = entryFileName(input.version, input.tries);
  await writeFileCrashSafe(join(esp, 'loader/entries', fileName), Buffer.from(text));
  await setDefault(esp, undefined); // the newest good entry sorts first
  return fileName;
}

/**
 * Gives a booted entry `tries` fresh tries, marked good (`+N-0`, counted-boots.ts): this also
 * blesses it when systemd-bless-boot did not run.
 */
export async function armEntry(esp: string, entry: EspEntry, tries: number): Promise<void> {
  const armed = armedFileName(entry.id, tries);
  if (entry.fileName === armed) return;
  // Through the crash-safe rename: on FAT a plain rename and a directory fsync can leave the
  // new name an empty file after a power cut (crash-safe-write.ts).
  await renameCrashSafe(join(esp, 'loader/entries', entry.fileName), join(esp, 'loader/entries', armed));
}

/**
 * Sets (or clears) loader.conf's `default`: a rollback names the other slot's entry; staging
 * a new release clears it so the newest good entry boots again.
 */
export async function setDefault(esp: string, id: string | undefined): Promise<void> {
  const path = join(esp, 'loader/loader.conf');
  const text = await readFile(path, 'utf8').catch(() => undefined);
  if (text === undefined && id === undefined) return;
  const lines = (text ?? '').split('\n').filter((l) => !/^\s*default\s/.test(l) && l !== '');
  if (id !== undefined) lines.push(`default ${id}.conf`);
  const next = lines.join('\n') + '\n';
  if (next !== text) {
    await mkdir(join(esp, 'loader'), { recursive: true });
    await writeFileCrashSafe(path, Buffer.from(next));
  }
}

/**
 * fsyncs loader/entries after an unlink there. A missing directory has nothing to
 * sync (no entry was ever written).
 */
async function syncEntries(esp: string): Promise<void> {
  await syncDirectory(join(esp, 'loader/entries')).catch((error: unknown) => {
    if (errnoOf(error) !== 'ENOENT') throw error;
  });
}

/** The ESP under a root: /boot or /efi, whichever holds loader/. */
export async function findEsp(root: string): Promise<string> {
  for (const dir of ['boot', 'efi', 'boot/efi']) {
    const path = join(root, dir);
    if ((await readdir(join(path, 'loader')).catch(() => undefined)) !== undefined) return path;
  }
  throw new KeelError('not-found', `no EFI system partition with loader/ under ${join(root, 'boot')} or ${join(root, 'efi')}; cannot add a boot entry`);
}
