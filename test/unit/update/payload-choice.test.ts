import { describe, expect, test } from 'vitest';
import { baseLengthsOf, planPayloads } from '../../../src/update/payload-choice.js';
import { releasesOf, type Release, type TargetLike } from '../../../src/update/release.js';
import { compressArgs, windowLogFor } from '../../../src/update/payload-maker.js';

const h = (c: string) => c.repeat(64);
const slot = { path: 'stable/2.0.0/slot.img', length: 1000, sha256: h('a') };
const compressed = { path: 'stable/2.0.0/slot.img.zst', length: 600, sha256: h('b'), windowLog: 10, slot: { length: 1000, sha256: h('a') } };
const delta = (version: string, base: string, length = 900) => ({
  path: `stable/2.0.0/slot.img.from-${version}.zst`, length: 40, sha256: h('c'), windowLog: 11, slot: { length: 1000, sha256: h('a') }, from: { version, length, sha256: h(base) },
});
const release = (over: Partial<Release> = {}): Release => ({ version: '2.0.0', channel: 'stable', slot, compressed, deltas: [delta('1.0.0', 'd'), delta('1.5.0', 'e', 950)], ...over });

describe('the delta chooser', () => {
  test('the running slot is a delta base: that delta, then the zstd payload, then raw', () => {
    const plan = planPayloads(release(), new Map([[900, h('d')], [950, h('0')]]));
    expect(plan.attempts.map((a) => a.kind)).toEqual(['delta', 'zstd', 'raw']);
    expect(plan.attempts[0]).toMatchObject({ payload: { from: { version: '1.0.0' } } });
    expect(plan.note).toBeUndefined();
  });
  test('two deltas whose bases the running slot both starts with: the longer base, then the smaller delta', () => {
    const short = delta('1.0.0', 'd');
    const long = { ...delta('1.0.1', 'e', 950), length: 90 };
    const longSmaller = { ...delta('1.0.2', 'e', 950), length: 30 };
    const plan = planPayloads(release({ deltas: [short, long, longSmaller] }), new Map([[900, h('d')], [950, h('e')]]));
    expect(plan.attempts[0]).toEqual({ kind: 'delta', payload: longSmaller });
  });
  test.each([
    ['another base (hash differs at the same length)', new Map([[900, h('f')], [950, h('f')]])],
    ['the running slot is shorter than every base', new Map<number, string>()],
    ['the right hash for the wrong length', new Map([[950, h('d')]])],
  ])('%s: no delta; zstd then raw, and a note naming what was offered', (_, hashes) => {
    const plan = planPayloads(release(), hashes);
    expect(plan.attempts.map((a) => a.kind)).toEqual(['zstd', 'raw']);
    expect(plan.note).toMatch(/no delta of 2\.0\.0 starts from the running slot \(offered from 1\.0\.0 dddddddddddd…, 1\.5\.0 eeeeeeeeeeee…\)/);
  });
  test('no delta published, or the running slot unknown: zstd then raw', () => {
    expect(planPayloads(release({ deltas: [] }), new Map()).attempts.map((a) => a.kind)).toEqual(['zstd', 'raw']);
    expect(planPayloads(release(), undefined)).toEqual({ attempts: [{ kind: 'zstd', payload: compressed }, { kind: 'raw' }], note: 'the running slot is not known here: no delta tried' });
  });
  test('nothing but the raw slot: raw alone', () => {
    const { compressed: _c, deltas: _d, ...bare } = release();
    expect(planPayloads(bare, new Map()).attempts).toEqual([{ kind: 'raw' }]);
  });
  test('the prefix lengths to hash: one per distinct base length', () => {
    expect(baseLengthsOf(release({ deltas: [delta('1.0.0', 'd'), delta('1.0.1', 'e'), delta('1.5.0', 'e', 950)] }))).toEqual([900, 950]);
  });
});

describe('payload targets in signed metadata', () => {
  const target = (path: string, role: string, extra: Record<string, unknown> = {}, length = 10, sha = h('1')): TargetLike => ({ path, length, hashes: { sha256: sha }, custom: { keel: { version: '2.0.0', channel: 'stable', role, ...extra } } });
  const theSlot = { length: 1000, sha256: h('a') };
  test('a zstd and a delta target naming the release slot are read with their window and base', () => {
    const [r] = releasesOf([
      target('stable/2.0.0/slot.img', 'slot', {}, 1000, h('a')),
      target('stable/2.0.0/slot.img.zst', 'slot-zstd', { slot: theSlot, windowLog: 27 }, 600, h('b')),
      target('stable/2.0.0/slot.img.from-1.0.0.zst', 'slot-delta', { slot: theSlot, windowLog: 28, from: { version: '1.0.0', length: 900, sha256: h('d') } }, 40, h('c')),
    ]);
    expect(r!.compressed).toEqual({ path: 'stable/2.0.0/slot.img.zst', length: 600, sha256: h('b'), windowLog: 27, slot: theSlot });
    expect(r!.deltas).toEqual([{ path: 'stable/2.0.0/slot.img.from-1.0.0.zst', length: 40, sha256: h('c'), windowLog: 28, slot: theSlot, from: { version: '1.0.0', length: 900, sha256: h('d') } }]);
  });
  test.each([
    ['a payload for another slot hash', { slot: { length: 1000, sha256: h('9') }, windowLog: 27 }],
    ['a payload for another slot length', { slot: { length: 999, sha256: h('a') }, windowLog: 27 }],
    ['no slot named', { windowLog: 27 }],
    ['a window above 2 GiB', { slot: theSlot, windowLog: 32 }],
    ['a window that is not a whole number', { slot: theSlot, windowLog: 27.5 }],
    ['a delta without a base', { slot: theSlot, windowLog: 27 }],
    ['a delta whose base has no version', { slot: theSlot, windowLog: 27, from: { length: 900, sha256: h('d') } }],
    ['a delta whose base hash is not hex', { slot: theSlot, windowLog: 27, from: { version: '1.0.0', length: 900, sha256: 'x'.repeat(64) } }],
  ])('%s: ignored, the release keeps its raw slot', (_, extra) => {
    const [r] = releasesOf([target('stable/2.0.0/slot.img', 'slot', {}, 1000, h('a')), target('stable/2.0.0/p.zst', 'slot-delta', extra), target('stable/2.0.0/q.zst', 'slot-zstd', { ...extra, from: undefined })]);
    expect(r!.slot).toEqual({ path: 'stable/2.0.0/slot.img', length: 1000, sha256: h('a') });
    if (_ !== 'a delta without a base' && _ !== 'a delta whose base has no version' && _ !== 'a delta whose base hash is not hex') expect(r!.compressed).toBeUndefined();
    expect(r!.deltas).toBeUndefined();
  });
  test('payloads without their slot target make no release', () => {
    expect(releasesOf([target('stable/2.0.0/slot.img.zst', 'slot-zstd', { slot: theSlot, windowLog: 27 })])).toEqual([]);
  });
});

describe('zstd arguments', () => {
  test('a full payload is multi-threaded; a delta names its base, single-threaded (smaller patches)', () => {
    expect(compressArgs('s', 'o', 19, 27)).toEqual(['-q', '-f', '-19', '--long=27', '-T0', 's', '-o', 'o']);
    expect(compressArgs('s', 'o', 19, 28, 'old')).toEqual(['-q', '-f', '-19', '--long=28', '--patch-from=old', '--single-thread', 's', '-o', 'o']);
  });
  test.each([[0, 10], [1024, 10], [1025, 11], [193_249_280, 28], [2 ** 27, 27]])('window for %d bytes: 2^%d', (bytes, log) => {
    expect(windowLogFor(bytes)).toBe(log);
  });
});
