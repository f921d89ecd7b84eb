/**
 * FAT12/16/32 seed images (mkfs.vfat and mtools, as cloud-localds and hypervisors make them),
 * read in keel's own process. Long (VFAT) names when an entry has them, else the 8.3 name
 * with its lowercase flags; names match without regard to case, as a vfat mount does. The
 * label is the root directory's volume label entry, else the boot sector's, as blkid reads
 * it. Every size, cluster number and chain comes from the image and is bounded before use.
 */
import { KeelError } from '../../../errors.js';
import { paddedAscii, readExactly, u16, u32, type ByteSource } from './byte-source.js';
import type { SeedFiles } from '../labelled-filesystem.js';

/** A seed's directories list a few files. */
const maxDirectoryBytes = 1024 * 1024;
/** The FAT is read whole; 8 MiB covers a FAT32 volume of 8 GiB with 4 KiB clusters. */
const maxFatBytes = 8 * 1024 * 1024;

/** The volume's geometry, from its boot sector. */
interface Volume {
  bits: 12 | 16 | 32;
  sectorBytes: number;
  clusterBytes: number;
  fatOffset: number;
  fatBytes: number;
  /** FAT12/16: the fixed root directory region; FAT32: the root's first cluster. */
  root: { offset: number; bytes: number } | { cluster: number };
  dataOffset: number;
  clusterCount: number;
  bootLabel: string | undefined;
}

interface Entry {
  name: string;
  shortName: string;
  attributes: number;
  firstCluster: number;
  size: number;
}

const enum Attribute {
  VolumeLabel = 0x08,
  Directory = 0x10,
  LongName = 0x0f,
}

/**
 * The label of the FAT volume on `source`: '' when it has none, undefined when `source` holds
 * no FAT volume. A root directory that cannot be read leaves the boot sector's label; reading
 * the seed's files says what is wrong with it.
 */
export async function fatLabel(source: ByteSource, where: string): Promise<string | undefined> {
  const volume = await readVolume(source, where);
  if (!volume) return undefined;
  const entries = await new Fat(source, volume, where).rootEntries().catch(() => []);
  const rootLabel = entries.find((e) => (e.attributes & Attribute.VolumeLabel) !== 0)?.shortName;
  return (rootLabel && rootLabel !== 'NO NAME' ? rootLabel : volume.bootLabel) ?? '';
}

/**
 * The files of the FAT volume on `source`, or undefined when it is not one. Reading a file
 * larger than `maxBytes` is refused.
 */
export async function openFat(source: ByteSource, where: string, maxBytes: number): Promise<SeedFiles | undefined> {
  const volume = await readVolume(source, where);
  if (!volume) return undefined;
  const fat = new Fat(source, volume, where);
  return {
    async read(relativePath) {
      let entries = await fat.rootEntries();
      const parts = relativePath.split('/').filter((p) => p !== '');
      for (const [i, part] of parts.entries()) {
        const found = entries.find((e) => e.name.toLowerCase() === part.toLowerCase() && (e.attributes & Attribute.VolumeLabel) === 0);
        if (!found) return undefined;
        const directory = (found.attributes & Attribute.Directory) !== 0;
        if (i < parts.length - 1) {
          if (!directory) return undefined;
          entries = await fat.directoryEntries(found.firstCluster, `directory ${parts.slice(0, i + 1).join('/')}`);
          continue;
        }
        if (directory) return undefined;
        if (found.size > maxBytes) {
          throw new KeelError('invalid-input', `${where}: ${relativePath} is ${found.size} bytes, more than the ${maxBytes} allowed; refusing it`);
        }
        return fat.readChain(found.firstCluster, found.size, `file ${relativePath}`);
      }
      return undefined;
    },
  };
}

/** The boot sector's geometry, or undefined when `source` holds no FAT boot sector. */
async function readVolume(source: ByteSource, where: string): Promise<Volume | undefined> {
  if (source.size < 512) return undefined;
  const b = await readExactly(source, 0, 512, 'the boot sector', where);
  if (b[510] !== 0x55 || b[511] !== 0xaa) return undefined;
  const sectorBytes = u16(b, 11);
  const sectorsPerCluster = b[13]!;
  const reservedSectors = u16(b, 14);
  const fats = b[16]!;
  const rootEntries = u16(b, 17);
  const totalSectors = u16(b, 19) || u32(b, 32);
  const fatSectors = u16(b, 22) || u32(b, 36);
  // An MBR or another filesystem also ends its first sector with 55 AA; a BPB must be sane.
  const sane = [512, 1024, 2048, 4096].includes(sectorBytes) && [1, 2, 4, 8, 16, 32, 64, 128].includes(sectorsPerCluster)
    && reservedSectors >= 1 && fats >= 1 && fats <= 4 && fatSectors >= 1 && totalSectors >= 1
    && (paddedAscii(b, 54, 5).startsWith('FAT') || paddedAscii(b, 82, 5) === 'FAT32');
  if (!sane) return undefined;
  const rootSectors = Math.ceil((rootEntries * 32) / sectorBytes);
  const dataSector = reservedSectors + fats * fatSectors + rootSectors;
  if (dataSector >= totalSectors || totalSectors * sectorBytes > source.size) {
    throw new KeelError('invalid-input', `${where}: a FAT boot sector for ${totalSectors} sectors of ${sectorBytes} bytes (data from sector ${dataSector}) on an image of ${source.size} bytes; refusing this seed`);
  }
  const clusterCount = Math.floor((totalSectors - dataSector) / sectorsPerCluster);
  // The FAT type is the cluster count's, not the label's (Microsoft's FAT specification).
  const bits = clusterCount < 4085 ? 12 : clusterCount < 65525 ? 16 : 32;
  const fatBytes = fatSectors * sectorBytes;
  if (fatBytes > maxFatBytes || fatBytes * 8 < (clusterCount + 2) * bits) {
    throw new KeelError('invalid-input', `${where}: a FAT${bits} of ${fatBytes} bytes for ${clusterCount} clusters; refusing this seed`);
  }
  const extendedBootAt = bits === 32 ? 66 : 38;
  const bootLabel = b[extendedBootAt] === 0x29 ? paddedAscii(b, extendedBootAt + 5, 11) : undefined;
  return {
    bits,
    sectorBytes,
    clusterBytes: sectorsPerCluster * sectorBytes,
    fatOffset: reservedSectors * sectorBytes,
    fatBytes,
    root: bits === 32 ? { cluster: u32(b, 44) } : { offset: (reservedSectors + fats * fatSectors) * sectorBytes, bytes: rootEntries * 32 },
    dataOffset: dataSector * sectorBytes,
    clusterCount,
    bootLabel: bootLabel === undefined || bootLabel === '' || bootLabel === 'NO NAME' ? undefined : bootLabel,
  };
}

/** Reads directories and files through the first FAT, read once. */
class Fat {
  private table?: Uint8Array;

  constructor(
    private readonly source: ByteSource,
    private readonly volume: Volume,
    private readonly where: string,
  ) {}

  async rootEntries(): Promise<Entry[]> {
    const root = this.volume.root;
    if ('cluster' in root) return this.directoryEntries(root.cluster, 'the root directory');
    return parseDirectory(await readExactly(this.source, root.offset, root.bytes, 'the root directory', this.where), this.volume.bits);
  }

  async directoryEntries(firstCluster: number, what: string): Promise<Entry[]> {
    return parseDirectory(await this.readChain(firstCluster, undefined, what), this.volume.bits);
  }

  /** A chain's bytes: `size` of them for a file, the whole chain (bounded) for a directory. */
  async readChain(firstCluster: number, size: number | undefined, what: string): Promise<Uint8Array> {
    if (size === 0) return new Uint8Array();
    const clusters = await this.chain(firstCluster, size === undefined ? undefined : Math.ceil(size / this.volume.clusterBytes), what);
    const out = new Uint8Array(size ?? clusters.length * this.volume.clusterBytes);
    for (const [i, cluster] of clusters.entries()) {
      const length = Math.min(this.volume.clusterBytes, out.length - i * this.volume.clusterBytes);
      const offset = this.volume.dataOffset + (cluster - 2) * this.volume.clusterBytes;
      out.set(await readExactly(this.source, offset, length, what, this.where), i * this.volume.clusterBytes);
    }
    return out;
  }

  /** The clusters of a chain: `count` of them, or up to its end for a directory. */
  private async chain(first: number, count: number | undefined, what: string): Promise<number[]> {
    const table = (this.table ??= await readExactly(this.source, this.volume.fatOffset, this.volume.fatBytes, 'the FAT', this.where));
    const limit = count ?? Math.ceil(maxDirectoryBytes / this.volume.clusterBytes);
    const clusters: number[] = [];
    let cluster = first;
    while (count === undefined || clusters.length < count) {
      if (cluster < 2 || cluster > this.volume.clusterCount + 1) {
        throw new KeelError('invalid-input', `${this.where}: ${what}: cluster ${cluster} outside the volume's 2-${this.volume.clusterCount + 1}; refusing this seed`);
      }
      if (clusters.length >= limit) {
        throw new KeelError('invalid-input', `${this.where}: ${what} runs past ${limit} clusters (a loop in the FAT, or larger than a seed's); refusing this seed`);
      }
      clusters.push(cluster);
      const next = fatEntry(table, cluster, this.volume.bits);
      if (next >= endOfChain(this.volume.bits)) break;
      cluster = next;
    }
    if (count !== undefined && clusters.length < count) {
      throw new KeelError('invalid-input', `${this.where}: ${what}: its chain ends after ${clusters.length} of the ${count} clusters its size needs; refusing this seed`);
    }
    return clusters;
  }
}

function fatEntry(table: Uint8Array, cluster: number, bits: 12 | 16 | 32): number {
  if (bits === 12) {
    const pair = u16(table, cluster + (cluster >> 1));
    return cluster & 1 ? pair >> 4 : pair & 0xfff;
  }
  return bits === 16 ? u16(table, cluster * 2) : u32(table, cluster * 4) & 0x0fffffff;
}

/** The smallest value that ends a chain (0xFF7 and its kin mark bad clusters, caught as out of range). */
function endOfChain(bits: 12 | 16 | 32): number {
  return bits === 12 ? 0xff8 : bits === 16 ? 0xfff8 : 0x0ffffff8;
}

/** A directory's entries, long names joined to their short entries; deleted ones, `.` and `..` left out. */
function parseDirectory(data: Uint8Array, bits: 12 | 16 | 32): Entry[] {
  const entries: Entry[] = [];
  let longParts: string[] = [];
  let longChecksum = -1;
  for (let at = 0; at + 32 <= data.length; at += 32) {
    const first = data[at]!;
    if (first === 0x00) break;
    if (first === 0xe5) {
      longParts = [];
      continue;
    }
    const attributes = data[at + 11]!;
    if (attributes === Attribute.LongName) {
      const order = first & 0x1f;
      if (first & 0x40) longParts = [];
      longParts[order - 1] = longNamePart(data, at);
      longChecksum = data[at + 13]!;
      continue;
    }
    const raw = data.subarray(at, at + 11);
    const shortName = shortEntryName(raw, data[at + 12]!, attributes);
    const complete = longParts.length > 0 && [...longParts].every((part) => part !== undefined);
    const long = complete && longChecksum === shortNameChecksum(raw) ? longParts.join('') : undefined;
    longParts = [];
    if (shortName === '.' || shortName === '..') continue;
    entries.push({
      name: long ?? shortName,
      shortName,
      attributes,
      // The high half is FAT32's; FAT12/16 keep other data there.
      firstCluster: (bits === 32 ? u16(data, at + 20) * 0x10000 : 0) + u16(data, at + 26),
      size: u32(data, at + 28),
    });
  }
  return entries;
}

/** The 13 UCS-2 characters of a long name entry, up to its NUL. */
function longNamePart(data: Uint8Array, at: number): string {
  let text = '';
  for (const offset of [1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30]) {
    const code = u16(data, at + offset);
    if (code === 0x0000 || code === 0xffff) break;
    text += String.fromCharCode(code);
  }
  return text;
}

/** An 8.3 name as a mount shows it: base and extension joined, lowercased where the entry's flags say. */
function shortEntryName(raw: Uint8Array, caseFlags: number, attributes: number): string {
  const bytes = Uint8Array.from(raw);
  if (bytes[0] === 0x05) bytes[0] = 0xe5;
  // A volume label is 11 characters, not a base and an extension.
  if (attributes & Attribute.VolumeLabel) return paddedAscii(bytes, 0, 11);
  let base = paddedAscii(bytes, 0, 8);
  let extension = paddedAscii(bytes, 8, 3);
  if (caseFlags & 0x08) base = base.toLowerCase();
  if (caseFlags & 0x10) extension = extension.toLowerCase();
  return extension ? `${base}.${extension}` : base;
}

function shortNameChecksum(raw: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < 11; i++) sum = (((sum & 1) << 7) + (sum >> 1) + raw[i]!) & 0xff;
  return sum;
}
