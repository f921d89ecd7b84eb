import { otherSlot, verityOfOptions } from './boot-entry.js';
import { listEntries } from './esp.js';
import { bootedSlotOf, bootVerityOf, runningVersionOf } from './host-facts.js';
import { readNodeState, type StoredNodeState } from './node-state.js';
import { readRecords } from './progress-record.js';
import { loadUpdateConfig } from './update-config.js';
import { updatePathsOf } from './update-paths.js';

/**
 * What `keel update status` reports, read from disk only (the agent may not be running):
 * booted slot and version, what the other slot holds according to the ESP and the progress
 * records, the staged release, last check, last error, failed versions, and whether each slot
 * is verity-protected (the booted one from /run/keel/boot.env, the other from its boot entry).
 */
export interface SlotReport {
  slot: string | null;
  version: string | null;
  /** good | trying | bad | partial | empty */
  state: string;
  /** dm-verity: on (mapped through it), off (keel.verity=off), unknown (not recorded / no entry says). */
  verity: 'on' | 'off' | 'unknown';
  /** The root hash the slot was opened with (booted) or its entry will open it with (other). */
  rootHash: string | null;
}

export interface StatusReport {
  booted: SlotReport;
  other: SlotReport;
  staged: string | null;
  agentState: string | null;
  lastCheck: string | null;
  lastCheckResult: string | null;
  lastError: string | null;
  failedVersions: string[];
  highestSeen: string | null;
  download: { version: string; written: number; length: number } | null;
  strategy: string | null;
  channel: string | null;
  server: string | null;
  lockHeld: boolean;
}

export async function updateStatus(root: string): Promise<StatusReport> {
  const { stateDir, esp } = updatePathsOf(root);
  const slot = (await bootedSlotOf(root)) ?? null;
  const version = (await runningVersionOf(root)) ?? null;
  const entries = await listEntries(esp);
  const records = await readRecords(stateDir);
  const state = (await readNodeState(stateDir)) as StoredNodeState;
  const config = await loadUpdateConfig(root).catch(() => undefined);
  const bootedEntry = entries.find((e) => e.slot === slot && e.version === version);
  const other = slot ? otherSlot(slot) : null;
  const partial = records.find((r) => r.phase === 'partial' && (other === null || r.slot === other || r.slot === undefined));
  const otherEntry = entries.filter((e) => e.slot === other).sort((a, b) => (a.health === 'bad' ? 1 : 0) - (b.health === 'bad' ? 1 : 0))[0];
  const unknown = { verity: 'unknown', rootHash: null } as const;
  const entryVerity = otherEntry ? verityOfOptions(otherEntry.fields.options ?? '') : undefined;
  const otherVerity = entryVerity === 'off' ? { verity: 'off' as const, rootHash: null } : entryVerity ? { verity: 'on' as const, rootHash: entryVerity.rootHash } : unknown;
  const otherReport: SlotReport = partial
    ? { slot: other, version: partial.version, state: 'partial', ...unknown }
    : otherEntry
      ? { slot: other, version: otherEntry.version ?? null, state: otherEntry.health, ...otherVerity }
      : { slot: other, version: null, state: 'empty', ...unknown };
  const bootVerity = await bootVerityOf(root);
  return {
    booted: { slot, version, state: bootedEntry?.health ?? 'good', verity: bootVerity.state, rootHash: bootVerity.state === 'on' ? bootVerity.rootHash : null },
    other: otherReport,
    staged: state.staged && state.staged.version !== version ? state.staged.version : null,
    agentState: state.agentState ?? null,
    lastCheck: state.lastCheck ?? null,
    lastCheckResult: state.lastCheckResult ?? null,
    lastError: state.lastError ?? null,
    failedVersions: state.failedVersions,
    highestSeen: state.highestSeen ?? null,
    download: partial ? { version: partial.version, written: partial.written, length: partial.length } : null,
    strategy: config?.strategy ?? null,
    channel: config?.channel ?? null,
    server: config?.server ?? null,
    lockHeld: state.lockHeld ?? false,
  };
}

/** The human form of a status report. */
export function formatStatus(r: StatusReport): string {
  const lines = [
    `booted:       slot ${r.booted.slot ?? '?'}, ${r.booted.version ?? 'unknown version'} (${r.booted.state})`,
    `verity:       ${verityLine(r.booted, 'booted')}`,
    `other slot:   ${r.other.slot ?? '?'}: ${r.other.version ? `${r.other.version} (${r.other.state})` : r.other.state}`,
    ...(r.other.version && r.other.state !== 'partial' ? [`other verity: ${verityLine(r.other, 'other')}`] : []),
    `staged:       ${r.staged ?? 'nothing'}`,
    `agent:        ${r.agentState ?? 'not run yet'}${r.lockHeld ? ', holding the reboot lock' : ''}`,
    `last check:   ${r.lastCheck ?? 'never'}${r.lastCheckResult ? ` (${r.lastCheckResult})` : ''}`,
    `last error:   ${r.lastError ?? 'none'}`,
  ];
  if (r.download) lines.push(`download:     ${r.download.version}: ${r.download.written} of ${r.download.length} bytes, resumable`);
  if (r.failedVersions.length) lines.push(`failed:       ${r.failedVersions.join(', ')} (never installed again)`);
  lines.push(`policy:       ${r.strategy ?? '?'} on channel ${r.channel ?? '?'} from ${r.server ?? 'no server'}`);
  return lines.join('\n') + '\n';
}

/** One slot's verity state in words. */
function verityLine(s: SlotReport, which: 'booted' | 'other'): string {
  if (s.verity === 'on') return `${which === 'booted' ? 'on' : 'on in its boot entry'}, root hash ${s.rootHash}`;
  if (s.verity === 'off') return `off (keel.verity=off${which === 'booted' ? '' : ' in its boot entry'}: the slot is mounted without dm-verity)`;
  return which === 'booted' ? 'unknown (no VERITY= in /run/keel/boot.env)' : 'unknown (its boot entry carries no keel.verity=)';
}
