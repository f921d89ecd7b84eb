// The pure semaphore: table cases and fast-check properties over random operation sequences.
import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { emptySemaphore, formatSemaphore, giveSlot, parseSemaphore, setTotalSlots, takeSlot, type Semaphore } from '../../../src/lock/semaphore.js';

describe('semaphore', () => {
  test.each([
    ['takes a free slot', { totalSlots: 2, holders: ['b'] }, 'a', { ok: true, holders: ['a', 'b'], changed: true }],
    ['is recursive for a holder', { totalSlots: 1, holders: ['a'] }, 'a', { ok: true, holders: ['a'], changed: false }],
    ['refuses when full, naming the holders', { totalSlots: 1, holders: ['b'] }, 'a', { ok: false, holders: ['b'] }],
    ['refuses with zero slots', { totalSlots: 0, holders: [] }, 'a', { ok: false, holders: [] }],
  ] as const)('%s', (_name, start, id, want) => {
    const r = takeSlot({ totalSlots: start.totalSlots, holders: [...start.holders] }, id);
    expect(r.ok).toBe(want.ok);
    if (r.ok && want.ok) {
      expect(r.semaphore.holders).toEqual(want.holders);
      expect(r.changed).toBe(want.changed);
    } else if (!r.ok) expect(r.holders).toEqual(want.holders);
  });

  test('release of a non-holder is a no-op', () => {
    const s = { totalSlots: 1, holders: ['a'] };
    expect(giveSlot(s, 'x')).toEqual({ semaphore: s, changed: false });
    expect(giveSlot(s, 'a')).toEqual({ semaphore: { totalSlots: 1, holders: [] }, changed: true });
  });

  test('lowering the slots keeps the holders', () => {
    expect(setTotalSlots({ totalSlots: 3, holders: ['a', 'b'] }, 1)).toEqual({ totalSlots: 1, holders: ['a', 'b'] });
    expect(() => setTotalSlots(emptySemaphore(1), -1)).toThrow(/whole number/);
  });

  test.each([
    ['airlock layout', '{"total_slots":2,"holders":["b","a"]}', { totalSlots: 2, holders: ['a', 'b'] }],
    ['Go null holders', '{"total_slots":1,"holders":null}', { totalSlots: 1, holders: [] }],
    ['duplicates removed', '{"total_slots":3,"holders":["a","a"]}', { totalSlots: 3, holders: ['a'] }],
  ])('parses %s', (_n, text, want) => expect(parseSemaphore(text)).toEqual(want));

  test.each([['not json', 'nope'], ['no slots', '{"holders":[]}'], ['negative', '{"total_slots":-1}'], ['bad holders', '{"total_slots":1,"holders":[1]}'], ['locksmith v2 layout', '{"semaphore":1,"max":1,"holders":[]}']])(
    'refuses %s',
    (_n, text) => expect(() => parseSemaphore(text)).toThrow(/refusing to change it/),
  );

  test('formats exactly airlock\'s keys', () => {
    expect(formatSemaphore({ totalSlots: 2, holders: ['a'] })).toBe('{"total_slots":2,"holders":["a"]}');
  });

  const op = fc.oneof(
    fc.record({ kind: fc.constant('take' as const), id: fc.constantFrom('a', 'b', 'c', 'd', 'e') }),
    fc.record({ kind: fc.constant('give' as const), id: fc.constantFrom('a', 'b', 'c', 'd', 'e') }),
    fc.record({ kind: fc.constant('max' as const), n: fc.integer({ min: 0, max: 4 }) }),
  );

  test('property: holders stay sorted and unique; takes never exceed the slots; round-trips through JSON', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4 }), fc.array(op, { maxLength: 60 }), (slots, ops) => {
        let s: Semaphore = emptySemaphore(slots);
        for (const o of ops) {
          const before = s;
          if (o.kind === 'take') {
            const r = takeSlot(s, o.id);
            if (r.ok) {
              s = r.semaphore;
              if (r.changed) expect(s.holders.length).toBeLessThanOrEqual(s.totalSlots);
              expect(s.holders).toContain(o.id);
            } else {
              expect(before.holders.length).toBeGreaterThanOrEqual(before.totalSlots);
              expect(before.holders).not.toContain(o.id);
            }
          } else if (o.kind === 'give') {
            s = giveSlot(s, o.id).semaphore;
            expect(s.holders).not.toContain(o.id);
          } else s = setTotalSlots(s, o.n);
          expect(s.holders).toEqual([...new Set(s.holders)].sort());
          expect(parseSemaphore(formatSemaphore(s))).toEqual(s);
        }
      }),
    );
  });

  test('property: take is idempotent and take-then-give restores the semaphore', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.uniqueArray(fc.string({ minLength: 1, maxLength: 8 }).filter((x) => !/[\s\u0000-\u001f]/.test(x)), { maxLength: 4 }), fc.string({ minLength: 1, maxLength: 8 }).filter((x) => !/[\s\u0000-\u001f]/.test(x)), (slots, held, id) => {
        const s: Semaphore = { totalSlots: slots, holders: [...held].sort() };
        const once = takeSlot(s, id);
        if (!once.ok) return;
        const twice = takeSlot(once.semaphore, id);
        expect(twice).toEqual({ ok: true, semaphore: once.semaphore, changed: false });
        if (once.changed) expect(giveSlot(once.semaphore, id).semaphore).toEqual(s);
      }),
    );
  });
});
