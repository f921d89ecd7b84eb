import { KeelError } from '../errors.js';
import type { Slot } from './agent-state.js';
import { verityBlockBytes } from './verity-facts.js';

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

/**
 * good: no counter (blessed or never counted), or armed again after a good boot (`+N-0`,
 * counted-boots.ts: systemd-boot never writes a done count of 0); trying: tries left after a
 * try began; bad: none left.
 */
export function entryHealth(name: EntryName): EntryHealth {
  if (name.triesLeft === undefined) return 'good';
  if (name.triesLeft === 0) return 'bad';
  return name.triesDone === 0 ? 'good' : 'trying';
}

/** The file name of a new entry with `tries` boot attempts. */
export function entryFileName(version: string, tries?: number): string {
  return `keel-${version}${tries === undefined ? '' : `+${tries}`}.conf`;
}

/** The file name of a good entry armed with `tries` for its next boots (counted-boots.ts). */
export function armedFileName(id: string, tries: number): string {
  return `${id}+${tries}-0.conf`;
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

/**
 * How the slot an entry boots is verified: dm-verity with the signed root hash and the hash
 * area's offset, or `off` (only for a release the trust configuration allowed without verity).
 */
export type EntryVerity = { rootHash: string; hashOffset: number } | 'off';

/** Words of the kernel command line that keel owns and replaces for each entry. */
const ownedWords = /^keel\.(slot|verity|verity\.hashoffset)=/;

/** The words that tell the initramfs how to open the slot; a value that is not a root hash or an offset is refused. */
export function verityWords(verity: EntryVerity): string[] {
  if (verity === 'off') return ['keel.verity=off'];
  const { rootHash, hashOffset } = verity;
  if (typeof rootHash !== 'string' || !/^[0-9a-f]{64}$/.test(rootHash))
    throw new KeelError('verification', `verity root hash ${JSON.stringify(String(rootHash).slice(0, 80))}: expected 64 lowercase hex digits; no boot entry written`);
  if (!Number.isSafeInteger(hashOffset) || hashOffset <= 0 || hashOffset % verityBlockBytes !== 0)
    throw new KeelError('verification', `verity hash offset ${String(hashOffset)}: expected a positive multiple of 4096 bytes; no boot entry written`);
  return [`keel.verity=${rootHash}`, `keel.verity.hashoffset=${hashOffset}`];
}

/**
 * A kernel command line moved to another slot: `keel.slot=` replaced (or added) and, when
 * `verity` is given, the old slot's `keel.verity=`/`keel.verity.hashoffset=` replaced by the
 * new release's, so an entry never carries another slot's root hash.
 */
export function optionsForSlot(options: string, slot: Slot, verity?: EntryVerity): string {
  const words = options.split(/\s+/).filter(Boolean);
  const kept = words.filter((w) => (verity === undefined ? !w.startsWith('keel.slot=') : !ownedWords.test(w)));
  return [...kept, `keel.slot=${slot}`, ...(verity === undefined ? [] : verityWords(verity))].join(' ');
}

/** The verity state a kernel command line asks for: the root hash and offset, `off`, or undefined (none). */
export function verityOfOptions(options: string): EntryVerity | undefined {
  const word = (name: string) => options.split(/\s+/).find((w) => w.startsWith(`keel.${name}=`))?.slice(name.length + 6);
  const hash = word('verity');
  if (hash === undefined) return undefined;
  if (hash === 'off') return 'off';
  return { rootHash: hash, hashOffset: Number(word('verity.hashoffset')) };
}

/** The text of keel's entry for a release in a slot. */
export function entryText(version: string, slot: Slot, options: string, verity?: EntryVerity): string {
  if (/[\r\n]/.test(options) || /[\r\n]/.test(version)) throw new KeelError('invalid-input', 'a boot entry line with a line break: refusing to write the entry');
  return [`title keel ${version} (slot ${slot})`, `version ${version}`, 'sort-key keel', `linux /keel/${slot}/vmlinuz`, `initrd /keel/${slot}/initramfs.img`, `options ${optionsForSlot(options, slot, verity)}`, ''].join('\n');
}

/** The other slot. */
export function otherSlot(slot: Slot): Slot {
  return slot === 'a' ? 'b' : 'a';
}
