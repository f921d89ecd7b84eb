import { describe, expect, test } from 'vitest';
import { hashAreaBytes, parseVerityDump, superblockMismatch, verityFactsOf, type VerityFacts } from '../../../src/update/verity-facts.js';
import { releasesOf, type TargetLike } from '../../../src/update/release.js';
import { entryText, optionsForSlot, verityOfOptions, verityWords } from '../../../src/update/boot-entry.js';
import { KeelError } from '../../../src/errors.js';

// The verity facts a release carries, the kernel command line built from them, and how a
// hostile value is refused before it reaches a boot entry.
const rootHash = 'c077a70311ea84d96f939ea68f87e25e459fd79dc99b6253266781817b6f74df';
const salt = 'e7d9ae1d8cac6a29721eec79c5b559370e524236704b5664dbf973a966ab9008';
const good: VerityFacts = { hashAlgorithm: 'sha256', dataBlockSize: 4096, hashBlockSize: 4096, dataSize: 300 * 4096, hashOffset: 300 * 4096, salt, rootHash };
const slotLength = 305 * 4096;

describe('verity facts', () => {
  test('the hash area is the superblock plus every tree level, as veritysetup lays it out', () => {
    // 300 blocks: veritysetup dump says 4 hash blocks, plus its superblock.
    expect(hashAreaBytes(300 * 4096)).toBe(5 * 4096);
    expect(hashAreaBytes(4096)).toBe(2 * 4096);
    expect(hashAreaBytes(128 * 4096)).toBe(2 * 4096);
    expect(hashAreaBytes(129 * 4096)).toBe(4 * 4096);
    expect(hashAreaBytes(128 * 128 * 4096 + 4096)).toBe((1 + 129 + 2 + 1) * 4096);
  });

  test('a well-formed object is accepted as is', () => {
    expect(verityFactsOf({ ...good }, slotLength)).toEqual({ facts: good });
    expect(verityFactsOf({ ...good, salt: '' }, slotLength)).toEqual({ facts: { ...good, salt: '' } });
    // Trailing bytes after the tree (a partition larger than the image) are allowed.
    expect(verityFactsOf({ ...good, hashOffset: 301 * 4096 }, slotLength + 4096)).toEqual({ facts: { ...good, hashOffset: 301 * 4096 } });
  });

  test.each([
    ['not an object', [good], /^verity: expected a verity object .* found a list$/],
    ['md5', { ...good, hashAlgorithm: 'md5' }, /^verity\.hashAlgorithm: expected "sha256", found the string "md5"$/],
    ['512-byte data blocks', { ...good, dataBlockSize: 512 }, /^verity\.dataBlockSize: expected 4096, found number 512$/],
    ['a string hash block size', { ...good, hashBlockSize: '4096' }, /^verity\.hashBlockSize: expected 4096/],
    ['a data size off the block grid', { ...good, dataSize: 300 * 4096 + 1 }, /^verity\.dataSize: expected a positive multiple of 4096 bytes, found number 1228801$/],
    ['a zero data size', { ...good, dataSize: 0 }, /^verity\.dataSize: expected a positive multiple/],
    ['a negative offset', { ...good, hashOffset: -4096 }, /^verity\.hashOffset: expected a multiple of 4096 bytes/],
    ['a fractional offset', { ...good, hashOffset: 4096.5 }, /^verity\.hashOffset: expected a multiple of 4096 bytes/],
    ['an offset inside the data', { ...good, hashOffset: 299 * 4096 }, /^verity\.hashOffset: expected at least dataSize \(1228800\), so the tree does not overlap the data, found number 1224704$/],
    ['an uppercase root hash', { ...good, rootHash: rootHash.toUpperCase() }, /^verity\.rootHash: expected 64 lowercase hex digits/],
    ['a short root hash', { ...good, rootHash: rootHash.slice(2) }, /^verity\.rootHash: expected 64 lowercase hex digits/],
    ['a root hash with a command line word', { ...good, rootHash: `${rootHash} init=/bin/sh` }, /^verity\.rootHash: expected 64 lowercase hex digits/],
    ['an odd-length salt', { ...good, salt: 'abc' }, /^verity\.salt: expected lowercase hex of at most 256 bytes, found the string "abc"$/],
    ['a salt over 256 bytes', { ...good, salt: 'ab'.repeat(257) }, /^verity\.salt: expected lowercase hex/],
    ['no root hash', { ...good, rootHash: undefined }, /^verity\.rootHash: expected 64 lowercase hex digits, found nothing$/],
  ])('%s is refused with the field named', (_name, raw, message) => {
    const result = verityFactsOf(raw, slotLength);
    expect('problem' in result && result.problem).toMatch(message);
  });

  test('a tree that would end past the slot is refused', () => {
    const result = verityFactsOf(good, slotLength - 1);
    expect(result).toEqual({ problem: 'verity: the hash area ends at byte 1249280 (hashOffset 1228800 + 20480), past the 1249279-byte slot' });
  });
});

describe('the verity superblock', () => {
  const dump = `VERITY header information for s.img
UUID:            \t12345678-1234-1234-1234-123456789abc
Hash type:       \t1
Data blocks:     \t300
Data block size: \t4096
Hash blocks:     \t4
Hash block size: \t4096
Hash algorithm:  \tsha256
Salt:            \t${salt}
`;
  test('veritysetup dump is read field by field', () => {
    expect(parseVerityDump(dump)).toEqual({ dataBlocks: 300, dataBlockSize: 4096, hashBlockSize: 4096, hashAlgorithm: 'sha256', salt });
    expect(parseVerityDump(dump.replace(salt, '-'))?.salt).toBe('');
    expect(parseVerityDump('Device s.img is not a valid VERITY device.')).toBeUndefined();
  });

  test('a superblock that agrees says nothing; one that differs names every field', () => {
    const sb = parseVerityDump(dump)!;
    expect(superblockMismatch(sb, good)).toBeUndefined();
    expect(superblockMismatch({ ...sb, dataBlocks: 290, salt: '' }, good)).toBe(`data blocks 290 in the superblock, 300 signed, salt (none) in the superblock, ${salt} signed`);
  });
});

describe('releases carry the verity signed on their slot target', () => {
  const target = (role: string, verity?: unknown, length = slotLength): TargetLike => ({
    path: `stable/2.0.0/${role}`,
    length,
    hashes: { sha256: 'a'.repeat(64) },
    custom: { keel: { version: '2.0.0', channel: 'stable', role, ...(verity !== undefined && { verity }) } },
  });

  test('a well-formed object on the slot becomes release.verity', () => {
    const [release] = releasesOf([target('slot', good), target('kernel')]);
    expect(release?.verity).toEqual(good);
    expect(release?.verityProblem).toBeUndefined();
  });

  test('none means none; one on another target does not count', () => {
    const [release] = releasesOf([target('slot'), target('kernel', good)]);
    expect(release?.verity).toBeUndefined();
    expect(release?.verityProblem).toBeUndefined();
  });

  test('a malformed one is kept as a problem, never dropped (a release must not lose its verity silently)', () => {
    const [release] = releasesOf([target('slot', { ...good, rootHash: 'zz' })]);
    expect(release?.verity).toBeUndefined();
    expect(release?.verityProblem).toMatch(/^verity\.rootHash: expected 64 lowercase hex digits/);
    const [short] = releasesOf([target('slot', good, 4096)]);
    expect(short?.verityProblem).toMatch(/past the 4096-byte slot$/);
  });
});

describe('the kernel command line of a new entry', () => {
  const old = `console=ttyS0,115200 ro keel.slot=a keel.verity=${'1'.repeat(64)} keel.verity.hashoffset=8192 quiet`;

  test("the old slot's verity words are replaced by the release's", () => {
    expect(optionsForSlot(old, 'b', { rootHash, hashOffset: 1228800 })).toBe(`console=ttyS0,115200 ro quiet keel.slot=b keel.verity=${rootHash} keel.verity.hashoffset=1228800`);
  });

  test('an allowed release without verity boots with keel.verity=off and no stale offset', () => {
    expect(optionsForSlot(old, 'b', 'off')).toBe('console=ttyS0,115200 ro quiet keel.slot=b keel.verity=off');
  });

  test('without verity given, only the slot changes (manual rollback keeps the entry as it was)', () => {
    expect(optionsForSlot(old, 'b')).toBe(`console=ttyS0,115200 ro keel.verity=${'1'.repeat(64)} keel.verity.hashoffset=8192 quiet keel.slot=b`);
  });

  test('an entry says what its command line asks for', () => {
    expect(verityOfOptions(optionsForSlot(old, 'b', { rootHash, hashOffset: 4096 }))).toEqual({ rootHash, hashOffset: 4096 });
    expect(verityOfOptions('keel.slot=a keel.verity=off')).toBe('off');
    expect(verityOfOptions('keel.slot=a')).toBeUndefined();
  });

  test.each([
    ['an uppercase root hash', { rootHash: rootHash.toUpperCase(), hashOffset: 4096 }, /^verity root hash "C077.*": expected 64 lowercase hex digits; no boot entry written$/],
    ['a root hash carrying another option', { rootHash: `${rootHash} init=/bin/sh`, hashOffset: 4096 }, /expected 64 lowercase hex digits/],
    ['a root hash with a line break', { rootHash: `${rootHash}\nlinux /evil`, hashOffset: 4096 }, /expected 64 lowercase hex digits/],
    ['an offset off the block grid', { rootHash, hashOffset: 4097 }, /^verity hash offset 4097: expected a positive multiple of 4096 bytes; no boot entry written$/],
    ['a zero offset', { rootHash, hashOffset: 0 }, /verity hash offset 0: expected a positive multiple/],
    ['an offset beyond exact integers', { rootHash, hashOffset: 2 ** 60 }, /verity hash offset 1152921504606847000: expected/],
    ['NaN', { rootHash, hashOffset: Number.NaN }, /verity hash offset NaN: expected/],
  ])('%s is refused', (_name, verity, message) => {
    let error: unknown;
    try {
      verityWords(verity);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(KeelError);
    expect((error as KeelError).kind).toBe('verification');
    expect((error as Error).message).toMatch(message);
  });

  test('the entry text carries the words on its options line; a line break in the options is refused', () => {
    expect(entryText('2.0.0', 'b', 'ro keel.slot=a', { rootHash, hashOffset: 4096 }).split('\n')).toContain(`options ro keel.slot=b keel.verity=${rootHash} keel.verity.hashoffset=4096`);
    expect(() => entryText('2.0.0', 'b', 'ro\nlinux /evil', 'off')).toThrow(/line break: refusing to write the entry/);
  });
});
