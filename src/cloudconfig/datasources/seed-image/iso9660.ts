/**
 * ISO 9660 seed images (cloud-localds, genisoimage, xorriso, OpenStack config drives), read
 * in keel's own process. Names come from Rock Ridge when the image has it, else from Joliet,
 * else the plain ISO names lowercased without their `;1`: the order Linux's isofs uses, so
 * keel sees the files a mount would show. Only what a seed needs is read: directories and
 * files of one extent. Every size and offset comes from the image and is bounded before use.
 */
import { KeelError } from '../../../errors.js';
import { paddedAscii, readExactly, u16, u32, type ByteSource } from './byte-source.js';
import type { SeedFiles } from '../labelled-filesystem.js';

const sectorBytes = 2048;
const firstDescriptorSector = 16;
/** A seed has a handful of descriptors (primary, Joliet, boot record, terminator). */
const maxDescriptors = 32;
/** A seed's directories list a few files; a directory larger than this is not a seed's. */
const maxDirectoryBytes = 1024 * 1024;
/** Rock Ridge continuation areas followed for one record's name. */
const maxContinuations = 8;

/** A directory record as stored. */
interface DirectoryRecord {
  length: number;
  extentBlock: number;
  size: number;
  directory: boolean;
  multiExtent: boolean;
  interleaved: boolean;
  rawName: Uint8Array;
  systemUse: Uint8Array;
}

/** A record under the name the image's naming gives it. */
interface Entry {
  name: string;
  record: DirectoryRecord;
}

/** The volume as its descriptors give it. */
interface Volume {
  label: string;
  blockBytes: number;
  primaryRoot: Uint8Array;
  jolietRoot?: Uint8Array;
}

/** The volume label of an ISO 9660 image ('' when it has none), or undefined when `source` is not one. */
export async function iso9660Label(source: ByteSource, where: string): Promise<string | undefined> {
  return (await readVolume(source, where))?.label;
}

/**
 * The files of the ISO 9660 image on `source`, or undefined when it is not one. Reading a
 * file larger than `maxBytes` is refused.
 */
export async function openIso9660(source: ByteSource, where: string, maxBytes: number): Promise<SeedFiles | undefined> {
  const volume = await readVolume(source, where);
  if (!volume) return undefined;
  const primary = parseRecord(volume.primaryRoot, 0, where, 'the root directory record');
  // Rock Ridge marks the root's own `.` record with SUSP's SP entry, which also says how many
  // bytes of every system use area come before the entries (almost always none).
  const rootDot = (await readDirectoryRecords(source, volume, primary, where))[0];
  const sp = rootDot && susp(rootDot.systemUse, 0).find((e) => e.signature === 'SP' && e.data.length >= 7);
  const naming: Naming = sp ? { kind: 'rock-ridge', skipBytes: sp.data[6]! } : volume.jolietRoot ? { kind: 'joliet' } : { kind: 'plain' };
  const root = naming.kind === 'joliet' ? parseRecord(volume.jolietRoot!, 0, where, 'the Joliet root record') : primary;

  return {
    async read(relativePath) {
      let record = root;
      for (const part of relativePath.split('/').filter((p) => p !== '')) {
        if (!record.directory) return undefined;
        const found = (await listDirectory(source, volume, record, naming, where)).find((e) => e.name === part);
        if (!found) return undefined;
        record = found.record;
      }
      if (record.directory) return undefined;
      if (record.multiExtent || record.interleaved) {
        throw new KeelError('invalid-input', `${where}: ${relativePath} is stored ${record.multiExtent ? 'in several extents' : 'interleaved'}, which keel does not read in a seed; refusing this seed`);
      }
      if (record.size > maxBytes) {
        throw new KeelError('invalid-input', `${where}: ${relativePath} is ${record.size} bytes, more than the ${maxBytes} allowed; refusing it`);
      }
      return readExactly(source, record.extentBlock * volume.blockBytes, record.size, `file ${relativePath}`, where);
    },
  };
}

/** Which of the image's names a mount would show. */
type Naming = { kind: 'rock-ridge'; skipBytes: number } | { kind: 'joliet' } | { kind: 'plain' };

async function readVolume(source: ByteSource, where: string): Promise<Volume | undefined> {
  if (source.size < (firstDescriptorSector + 1) * sectorBytes) return undefined;
  let volume: Volume | undefined;
  let joliet: Uint8Array | undefined;
  for (let i = 0; i < maxDescriptors; i++) {
    const offset = (firstDescriptorSector + i) * sectorBytes;
    if (offset + sectorBytes > source.size) break;
    const d = await readExactly(source, offset, sectorBytes, 'a volume descriptor', where);
    if (paddedAscii(d, 1, 5) !== 'CD001') break;
    const type = d[0];
    if (type === 255) break;
    if (type === 1 && !volume) {
      const blockBytes = u16(d, 128);
      if (blockBytes !== 512 && blockBytes !== 1024 && blockBytes !== 2048) {
        throw new KeelError('invalid-input', `${where}: iso9660 logical block of ${blockBytes} bytes, expected 512, 1024 or 2048; refusing this seed`);
      }
      volume = { label: paddedAscii(d, 40, 32), blockBytes, primaryRoot: d.slice(156, 190) };
    }
    // Joliet: a supplementary descriptor whose escape sequence names UCS-2 (levels 1-3).
    if (type === 2 && d[88] === 0x25 && d[89] === 0x2f && [0x40, 0x43, 0x45].includes(d[90]!)) joliet = d.slice(156, 190);
  }
  if (volume && joliet) volume.jolietRoot = joliet;
  return volume;
}

function parseRecord(bytes: Uint8Array, at: number, where: string, what: string): DirectoryRecord {
  const length = bytes[at]!;
  const nameLength = bytes[at + 32] ?? 0;
  if (length < 34 || at + length > bytes.length || 33 + nameLength > length) {
    throw new KeelError('invalid-input', `${where}: iso9660 ${what} is malformed (length ${length}, name length ${nameLength}); refusing this seed`);
  }
  const systemUseAt = 33 + nameLength + (nameLength % 2 === 0 ? 1 : 0);
  return {
    length,
    extentBlock: u32(bytes, at + 2),
    size: u32(bytes, at + 10),
    directory: (bytes[at + 25]! & 0x02) !== 0,
    multiExtent: (bytes[at + 25]! & 0x80) !== 0,
    interleaved: bytes[at + 26] !== 0 || bytes[at + 27] !== 0,
    rawName: bytes.subarray(at + 33, at + 33 + nameLength),
    systemUse: bytes.subarray(at + Math.min(systemUseAt, length), at + length),
  };
}

/** Every record of a directory, `.` and `..` included, in order. */
async function readDirectoryRecords(source: ByteSource, volume: Volume, directory: DirectoryRecord, where: string): Promise<DirectoryRecord[]> {
  if (directory.size > maxDirectoryBytes) {
    throw new KeelError('invalid-input', `${where}: an iso9660 directory of ${directory.size} bytes, more than the ${maxDirectoryBytes} a seed's may have; refusing this seed`);
  }
  const data = await readExactly(source, directory.extentBlock * volume.blockBytes, directory.size, 'an iso9660 directory', where);
  const records: DirectoryRecord[] = [];
  let at = 0;
  while (at < data.length) {
    // Records never cross a sector; a zero length byte pads to the next one.
    if (data[at] === 0) {
      at = (Math.floor(at / sectorBytes) + 1) * sectorBytes;
      continue;
    }
    const record = parseRecord(data, at, where, `directory record at byte ${at} of its directory`);
    if (Math.floor(at / sectorBytes) !== Math.floor((at + record.length - 1) / sectorBytes)) {
      throw new KeelError('invalid-input', `${where}: iso9660 directory record at byte ${at} crosses a sector; refusing this seed`);
    }
    records.push(record);
    at += record.length;
  }
  return records;
}

/** A directory's entries by their names in `naming`, without `.` and `..`. */
async function listDirectory(source: ByteSource, volume: Volume, directory: DirectoryRecord, naming: Naming, where: string): Promise<Entry[]> {
  const entries: Entry[] = [];
  for (const record of await readDirectoryRecords(source, volume, directory, where)) {
    const raw = record.rawName;
    if (raw.length === 1 && (raw[0] === 0 || raw[0] === 1)) continue;
    let name: string;
    if (naming.kind === 'rock-ridge') name = (await rockRidgeName(source, volume, record.systemUse.subarray(naming.skipBytes), where)) ?? plainName(raw);
    else name = naming.kind === 'joliet' ? jolietName(raw) : plainName(raw);
    entries.push({ name, record });
  }
  return entries;
}

/** A plain ISO name as Linux shows it: lowercased, without `;version` or a trailing dot. */
function plainName(raw: Uint8Array): string {
  return paddedAscii(raw, 0, raw.length).replace(/;\d*$/, '').replace(/\.$/, '').toLowerCase();
}

/** A Joliet name: UCS-2 big-endian, without `;version`. */
function jolietName(raw: Uint8Array): string {
  let name = '';
  for (let i = 0; i + 1 < raw.length; i += 2) name += String.fromCharCode((raw[i]! << 8) | raw[i + 1]!);
  return name.replace(/;\d*$/, '');
}

interface SuspEntry {
  signature: string;
  data: Uint8Array;
}

/** The System Use Sharing Protocol entries of a system use area, up to its ST terminator. */
function susp(area: Uint8Array, from = 0): SuspEntry[] {
  const entries: SuspEntry[] = [];
  let at = from;
  while (at + 4 <= area.length) {
    const length = area[at + 2]!;
    if (length < 4 || at + length > area.length) break;
    const signature = String.fromCharCode(area[at]!, area[at + 1]!);
    if (signature === 'ST') break;
    entries.push({ signature, data: area.subarray(at, at + length) });
    at += length;
  }
  return entries;
}

/** The Rock Ridge NM name of a record, following CE continuation areas; undefined when it has none. */
async function rockRidgeName(source: ByteSource, volume: Volume, systemUse: Uint8Array, where: string): Promise<string | undefined> {
  let name: string | undefined;
  let area = systemUse;
  for (let hop = 0; hop <= maxContinuations; hop++) {
    let next: { block: number; offset: number; length: number } | undefined;
    for (const entry of susp(area)) {
      const d = entry.data;
      if (entry.signature === 'NM' && d.length >= 5) {
        // Flags 2 and 4 name `.` and `..`; the rest is the name, possibly in several NM entries.
        if ((d[4]! & 0x06) !== 0) continue;
        name = (name ?? '') + new TextDecoder().decode(d.subarray(5));
      }
      if (entry.signature === 'CE' && d.length >= 28) next = { block: u32(d, 4), offset: u32(d, 12), length: u32(d, 20) };
    }
    if (!next) return name;
    if (next.length > sectorBytes) {
      throw new KeelError('invalid-input', `${where}: a Rock Ridge continuation area of ${next.length} bytes, more than a sector; refusing this seed`);
    }
    area = await readExactly(source, next.block * volume.blockBytes + next.offset, next.length, 'a Rock Ridge continuation area', where);
  }
  throw new KeelError('invalid-input', `${where}: Rock Ridge continuation areas chain more than ${maxContinuations} deep; refusing this seed`);
}
