import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Booted } from './agent-state.js';
import { armEntry, listEntries } from './esp.js';

/**
 * Every boot of a slot is counted, not only its first ones. systemd-bless-boot drops the
 * counter once a boot passes the health gate; keel then arms the entry again with fresh tries
 * as `+N-0` (a name systemd-boot never writes itself: it always counts a try as done, so `-0`
 * means "good, armed", boot-entry.ts). So a slot that breaks after it was blessed (a block
 * that dm-verity finds changed restarts the machine before the gate) uses up its tries and the
 * other slot boots by itself, as a new slot's first boots do. A health gate that fails on a
 * blessed slot is reported, not rebooted for (agent-tick.ts): only boots that never reach the
 * gate, or an operator's reboots, count it down.
 */

/** systemd-boot's EFI variable naming the counted entry it booted. */
const loaderBootCountPath = 'LoaderBootCountPath-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f';

export interface GoodBoot {
  root: string;
  esp: string;
  booted: Booted;
  /** Tries the armed entry gets. */
  tries: number;
  /** How long systemd-bless-boot is given before keel drops the counter itself. */
  blessWaitMs?: number;
}

/**
 * After a boot passed the health gate: lets systemd-bless-boot drop this boot's counter when
 * systemd-boot counted it (LoaderBootCountPath is set), then arms the entry for the next boot.
 */
export async function armAfterGoodBoot(g: GoodBoot): Promise<void> {
  const counted = await stat(join(g.root, 'sys/firmware/efi/efivars', loaderBootCountPath)).then(
    () => true,
    () => false,
  );
  const find = async () => (await listEntries(g.esp)).find((e) => e.slot === g.booted.slot && e.version === g.booted.version);
  const end = Date.now() + (g.blessWaitMs ?? 60_000);
  while (counted && Date.now() < end && (await find())?.health === 'trying') await new Promise((r) => setTimeout(r, 1000));
  const entry = await find();
  if (entry) await armEntry(g.esp, entry, g.tries);
}
