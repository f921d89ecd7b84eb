import type { Slot } from './agent-state.js';

/**
 * Boot Loader Specification entries as keel writes them, pure. A name is
 * `keel-<version>[+LEFT[-DONE]].conf`: the counter part is systemd-boot's boot counting
 * (it renames `+3` to `+2-1` before each try; `+0-N` is bad and sorts last; systemd-bless-boot
 * drops the counter after boot-complete.target). Entries share `sort-key keel` and carry
 * `version`, so systemd-boot puts the newest good entry first and boots it.
 */
export interface EntryName {
  /** The file name without counter or `.conf`: `keel-1.2.0`. */
  id: string;
  version?: string;
  triesLeft?: number;
  triesDone?: number;
}

export type EntryHealth = 'good' | 'trying' | 'bad';

/** Parses a file name in loader/entries. */
export function parseEntryName(fileName: string): EntryName | undefined {
  const m = /^(.+?)(?:\+(\d+)(?:-(\d+))?)?\.conf$/.exec(fileName);
  if (!m) return undefined;
  const id = m[1]!;
  const out: EntryName = { id };
  const v = /^keel-(.+)$/.exec(id)?.[1];
  if (v) out.version = v;
  if (m[2] !== undefined) out.triesLeft = Number(m[2]);
  if (m[3] !== undefined) out.triesDone = Number(m[3]);
  return out;
}

/** good: no counter (blessed or never counted); trying: tries left; bad: none left. */
export function entryHealth(name: EntryName): EntryHealth {
  if (name.triesLeft === undefined) return 'good';
  return name.triesLeft > 0 ? 'trying' : 'bad';
}

/** The file name of a new entry with `tries` boot attempts. */
export function entryFileName(version: string, tries?: number): string {
  return `keel-${version}${tries === undefined ? '' : `+${tries}`}.conf`;
}

/** Key/value lines of an entry file. */
export function parseEntryText(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*(\S+)\s+(.*?)\s*$/.exec(line);
    if (m && !m[1]!.startsWith('#')) out[m[1]!] = m[2]!;
  }
  return out;
}

/** The slot an entry boots (`keel.slot=` in its options). */
export function slotOfEntry(fields: Record<string, string>): Slot | undefined {
  const m = /(?:^|\s)keel\.slot=([ab])(?:\s|$)/.exec(fields.options ?? '');
  return m ? (m[1] as Slot) : undefined;
}

/** A kernel command line moved to another slot: `keel.slot=` replaced (or added). */
export function optionsForSlot(options: string, slot: Slot): string {
  const kept = options.split(/\s+/).filter((w) => w && !w.startsWith('keel.slot='));
  return [...kept, `keel.slot=${slot}`].join(' ');
}

/** The text of keel's entry for a release in a slot. */
export function entryText(version: string, slot: Slot, options: string): string {
  return [`title keel ${version} (slot ${slot})`, `version ${version}`, 'sort-key keel', `linux /keel/${slot}/vmlinuz`, `initrd /keel/${slot}/initramfs.img`, `options ${optionsForSlot(options, slot)}`, ''].join('\n');
}

/** The other slot. */
export function otherSlot(slot: Slot): Slot {
  return slot === 'a' ? 'b' : 'a';
}
