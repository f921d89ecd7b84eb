import { describe, expect, test } from 'vitest';
import { locksmithWindow, nextOpening, openUntil, weeklyWindow, windowOpen, cronOfWindow } from '../../../src/update/maintenance-window.js';
import { validate } from 'node-cron';

const at = (iso: string) => Date.parse(iso);

describe('maintenance windows', () => {
  // Lengths in the one grammar cloud-config validates with (src/duration.ts); `90min` was refused before issue 11.
  test.each([
    ['1h30m', 90],
    ['45m', 45],
    ['2h', 120],
    ['90s', 1.5],
    ['90min', 90],
    ['1h30min', 90],
  ])('length %s = %d minutes', (text, minutes) => expect(locksmithWindow('04:00', text).lengthMinutes).toBe(minutes));

  test.each(['', '1x', '1h 30m', 'h', '90'])('length %j is refused', (text) => expect(() => locksmithWindow('04:00', text)).toThrow(/reboot window length: expected a duration/));

  const thu = locksmithWindow('Thu 04:00', '1h30m');
  test.each([
    ['2026-11-26T03:59:59Z', false], // Thursday, a second early
    ['2026-11-26T04:00:00Z', true],
    ['2026-11-26T05:29:59Z', true],
    ['2026-11-26T05:30:00Z', false],
    ['2026-11-19T04:30:00Z', true], // the Thursday before
    ['2026-11-27T04:30:00Z', false], // Friday
  ])('locksmith Thu 04:00 for 1h30m at %s: open=%s', (iso, open) => expect(windowOpen([thu], at(iso))).toBe(open));

  test('openUntil: the close of the open window (the later of two overlapping), now when none is open, nothing without windows', () => {
    expect(openUntil([thu], at('2026-11-26T04:10:00Z'))).toBe(at('2026-11-26T05:30:00Z'));
    expect(openUntil([thu, locksmithWindow('Thu 05:00', '1h')], at('2026-11-26T05:10:00Z'))).toBe(at('2026-11-26T06:00:00Z'));
    expect(openUntil([thu], at('2026-11-27T04:10:00Z'))).toBe(at('2026-11-27T04:10:00Z'));
    expect(openUntil([locksmithWindow('23:30', '1h')], at('2026-11-27T00:10:00Z'))).toBe(at('2026-11-27T00:30:00Z')); // opened the day before
    expect(openUntil([], at('2026-11-27T04:10:00Z'))).toBeUndefined();
  });

  const nightly = locksmithWindow('23:30', '1h');
  test.each([
    ['2026-11-25T23:45:00Z', true],
    ['2026-11-26T00:15:00Z', true], // across midnight
    ['2026-11-26T00:30:00Z', false],
  ])('daily 23:30 for 1h at %s (across a day boundary): open=%s', (iso, open) => expect(windowOpen([nightly], at(iso))).toBe(open));

  const weekend = weeklyWindow(['Sat'], '22:00', 6 * 60);
  test.each([
    ['2026-11-28T23:00:00Z', true], // Saturday night
    ['2026-11-29T03:59:00Z', true], // Sunday morning: across the week boundary
    ['2026-11-29T04:00:00Z', false],
  ])('Sat 22:00 for 6h at %s (across the week boundary): open=%s', (iso, open) => expect(windowOpen([weekend], at(iso))).toBe(open));

  // Europe/Berlin leaves summer time on Sunday 2026-10-25 at 03:00 local (01:00Z).
  const berlin = weeklyWindow(['Sun'], '02:30', 60, 'Europe/Berlin');
  test('a window on the DST change day opens at the wall-clock time in the zone', () => {
    // 02:30 occurs twice that night; the window opens at the first (00:30Z, still summer time).
    expect(windowOpen([berlin], at('2026-10-25T00:29:00Z'))).toBe(false);
    expect(windowOpen([berlin], at('2026-10-25T00:30:00Z'))).toBe(true);
    expect(windowOpen([berlin], at('2026-10-25T01:29:00Z'))).toBe(true); // 60 real minutes
    expect(windowOpen([berlin], at('2026-10-25T01:31:00Z'))).toBe(false);
    // A week earlier (summer time, UTC+2) and a week later (winter time, UTC+1).
    expect(windowOpen([berlin], at('2026-10-18T00:45:00Z'))).toBe(true);
    expect(windowOpen([berlin], at('2026-11-01T01:45:00Z'))).toBe(true);
    expect(windowOpen([berlin], at('2026-11-01T00:45:00Z'))).toBe(false);
  });

  test('spring forward: a wall-clock start inside the gap opens an hour later', () => {
    // America/New_York skips 02:00–03:00 on 2026-03-08.
    const ny = weeklyWindow(['Sun'], '02:30', 30, 'America/New_York');
    expect(nextOpening([ny], at('2026-03-08T05:00:00Z'))).toBe(at('2026-03-08T07:30:00Z'));
  });

  test('next opening: now when open, the nearest future start otherwise, now without windows', () => {
    expect(nextOpening([thu], at('2026-11-26T04:10:00Z'))).toBe(at('2026-11-26T04:10:00Z'));
    expect(nextOpening([thu], at('2026-11-27T00:00:00Z'))).toBe(at('2026-12-03T04:00:00Z'));
    expect(nextOpening([thu, nightly], at('2026-11-27T00:40:00Z'))).toBe(at('2026-11-27T23:30:00Z'));
    expect(nextOpening([], 123)).toBe(123);
    expect(windowOpen([], 123)).toBe(true);
  });

  test.each([
    ['Thu 04:00', '8d'],
    ['04:00', '25h'],
    ['Thx 04:00', '1h'],
    ['4:61', '1h'],
  ])('locksmith window %s for %s is refused', (start, length) => expect(() => locksmithWindow(start, length)).toThrow());

  test('a window becomes a valid node-cron expression firing at its opening', () => {
    expect(cronOfWindow(thu)).toBe('0 0 4 * * 4');
    expect(validate(cronOfWindow(weekend))).toBe(true);
  });
});
