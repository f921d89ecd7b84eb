import { describeJson, isJsonObject } from './json-shape.js';

/**
 * A slot's dm-verity facts as the release manifest and the signed metadata carry them
 * (docs/update.md, "Verified slots"): the slot file is the filesystem zero-padded to
 * `dataSize`, then the hash area `veritysetup format` made, superblock first, at `hashOffset`.
 * Pure: the shape is checked strictly, because these values reach a kernel command line and
 * the tool that decides whether a slot may boot.
 */
export interface VerityFacts {
  hashAlgorithm: 'sha256';
  dataBlockSize: 4096;
  hashBlockSize: 4096;
  /** Bytes of data the tree covers: a multiple of 4096. */
  dataSize: number;
  /** Where the hash area (its superblock first) starts in the slot: at or after `dataSize`. */
  hashOffset: number;
  /** Lowercase hex, even length, at most 256 bytes (veritysetup's limit). */
  salt: string;
  /** 64 lowercase hex digits: the SHA-256 root of the tree, the value the boot entry carries. */
  rootHash: string;
}

export const verityBlockBytes = 4096;
/** SHA-256 digests in one 4096-byte hash block. */
const hashesPerBlock = verityBlockBytes / 32;

/** What a well-formed verity object is, for messages. */
export const verityExpected =
  'a verity object {hashAlgorithm "sha256", dataBlockSize 4096, hashBlockSize 4096, dataSize, hashOffset, salt, rootHash}';

/**
 * Bytes of the hash area for `dataSize` bytes of data: veritysetup's superblock block plus
 * every level of the tree, down to one block. Arithmetic only: the tree itself is made and
 * checked by veritysetup.
 */
export function hashAreaBytes(dataSize: number): number {
  let blocks = Math.ceil(dataSize / verityBlockBytes);
  let tree = 0;
  do {
    blocks = Math.ceil(blocks / hashesPerBlock);
    tree += blocks;
  } while (blocks > 1);
  return verityBlockBytes * (1 + tree);
}

const isBytes = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/**
 * Checks a verity object against the slot it describes (`slotLength` bytes). Returns the
 * facts, or one problem naming the field, what was expected and what was found.
 */
export function verityFactsOf(raw: unknown, slotLength: number): { facts: VerityFacts } | { problem: string } {
  const bad = (field: string, expected: string, found: unknown) => ({ problem: `verity.${field}: expected ${expected}, found ${describeJson(found)}` });
  if (!isJsonObject(raw)) return { problem: `verity: expected ${verityExpected}, found ${describeJson(raw)}` };
  const { hashAlgorithm, dataBlockSize, hashBlockSize, dataSize, hashOffset, salt, rootHash } = raw;
  if (hashAlgorithm !== 'sha256') return bad('hashAlgorithm', '"sha256"', hashAlgorithm);
  if (dataBlockSize !== verityBlockBytes) return bad('dataBlockSize', '4096', dataBlockSize);
  if (hashBlockSize !== verityBlockBytes) return bad('hashBlockSize', '4096', hashBlockSize);
  if (!isBytes(dataSize) || dataSize === 0 || dataSize % verityBlockBytes !== 0) return bad('dataSize', 'a positive multiple of 4096 bytes', dataSize);
  if (!isBytes(hashOffset) || hashOffset % verityBlockBytes !== 0) return bad('hashOffset', 'a multiple of 4096 bytes', hashOffset);
  if (hashOffset < dataSize) return bad('hashOffset', `at least dataSize (${dataSize}), so the tree does not overlap the data`, hashOffset);
  if (typeof salt !== 'string' || !/^(?:[0-9a-f]{2}){0,256}$/.test(salt)) return bad('salt', 'lowercase hex of at most 256 bytes', salt);
  if (typeof rootHash !== 'string' || !/^[0-9a-f]{64}$/.test(rootHash)) return bad('rootHash', '64 lowercase hex digits', rootHash);
  const end = hashOffset + hashAreaBytes(dataSize);
  if (end > slotLength) return { problem: `verity: the hash area ends at byte ${end} (hashOffset ${hashOffset} + ${end - hashOffset}), past the ${slotLength}-byte slot` };
  return { facts: { hashAlgorithm, dataBlockSize, hashBlockSize, dataSize, hashOffset, salt, rootHash } };
}

/** The fields `veritysetup dump` prints of a superblock, as keel compares them. */
export interface VeritySuperblock {
  dataBlocks: number;
  dataBlockSize: number;
  hashBlockSize: number;
  hashAlgorithm: string;
  salt: string;
}

/** Reads `veritysetup dump` output; undefined when a field is missing (no superblock there). */
export function parseVerityDump(text: string): VeritySuperblock | undefined {
  const field = (name: string) => new RegExp(`^${name}:\\s*(\\S+)\\s*$`, 'm').exec(text)?.[1];
  const dataBlocks = Number(field('Data blocks'));
  const dataBlockSize = Number(field('Data block size'));
  const hashBlockSize = Number(field('Hash block size'));
  const hashAlgorithm = field('Hash algorithm');
  const salt = field('Salt');
  if (![dataBlocks, dataBlockSize, hashBlockSize].every(Number.isSafeInteger) || !hashAlgorithm || salt === undefined) return undefined;
  return { dataBlocks, dataBlockSize, hashBlockSize, hashAlgorithm, salt: salt === '-' ? '' : salt.toLowerCase() };
}

/**
 * Where a superblock disagrees with the signed facts, as `field: superblock X, signed Y`; undefined
 * when it agrees. The root hash covers the tree but not the superblock, whose data block count
 * decides how much of the slot the kernel maps: it must be the signed one.
 */
export function superblockMismatch(sb: VeritySuperblock, facts: VerityFacts): string | undefined {
  const pairs: [string, unknown, unknown][] = [
    ['data blocks', sb.dataBlocks, facts.dataSize / verityBlockBytes],
    ['data block size', sb.dataBlockSize, facts.dataBlockSize],
    ['hash block size', sb.hashBlockSize, facts.hashBlockSize],
    ['hash algorithm', sb.hashAlgorithm, facts.hashAlgorithm],
    ['salt', sb.salt, facts.salt],
  ];
  const diff = pairs.filter(([, a, b]) => a !== b).map(([name, a, b]) => `${name} ${String(a) || '(none)'} in the superblock, ${String(b) || '(none)'} signed`);
  return diff.length ? diff.join(', ') : undefined;
}
