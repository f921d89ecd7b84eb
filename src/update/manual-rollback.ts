import { KeelError } from '../errors.js';
import { otherSlot } from './boot-entry.js';
import { listEntries, setDefault, type EspEntry } from './esp.js';
import { bootedSlotOf, runningVersionOf } from './host-facts.js';
import { updateNodeState } from './node-state.js';
import { readRecords } from './progress-record.js';
import { updatePathsOf } from './update-paths.js';
import { compareVersions } from './version-order.js';

/**
 * `keel update rollback`: make the other slot's good entry the next boot (loader.conf
 * `default`), refused when that slot holds nothing bootable. Rolling back to an older version
 * records the running one as failed, so the agent does not install it again.
 */
export interface RollbackResult {
  slot: string;
  entry: EspEntry;
  /** The version rolled away from, never installed again; null when rolling forward. */
  skipped: string | null;
}

export async function rollbackToOtherSlot(root: string): Promise<RollbackResult> {
  const booted = await bootedSlotOf(root);
  if (!booted) throw new KeelError('not-found', 'cannot tell the booted slot (no keel.slot= on /proc/cmdline); rollback refused');
  const other = otherSlot(booted);
  const { esp, stateDir } = updatePathsOf(root);
  const entry = (await listEntries(esp)).find((e) => e.slot === other && e.health !== 'bad');
  const partial = (await readRecords(stateDir)).find((r) => r.slot === other && r.phase === 'partial');
  if (!entry || partial)
    throw new KeelError('conflict', `slot ${other} holds nothing bootable (${partial ? `a partial download of ${partial.version}` : 'no good boot entry'}); rollback refused, the next boot stays slot ${booted}`);
  await setDefault(esp, entry.id);
  // The version rolled away from is not installed again by the agent; newer releases still are.
  const running = await runningVersionOf(root);
  const skipped = running && entry.version && compareVersions(entry.version, running) < 0 ? running : null;
  if (skipped) await updateNodeState(stateDir, (s) => ({ ...s, failedVersions: [...new Set([...s.failedVersions, skipped])] }));
  return { slot: other, entry, skipped };
}
