// keel's one duration grammar (src/duration.ts): what cloud-config validates, update.conf,
// lock.conf, supervisor.yaml and the lock flags all read the same way. Before issue 11
// there were four parsers; their tables are merged here and each still holds.
import { describe, expect, test } from 'vitest';
import { durationValueMs, formatDuration, formatElapsedMs, formatSystemdSpan, longestTimerMs, parseDurationMs, readDurationMs } from '../../src/duration.js';

describe('the grammar', () => {
  test.each<[string, number | undefined]>([
    ['90s', 90_000],
    ['1h30m', 5_400_000],
    ['500ms', 500],
    ['250ms', 250],
    ['2d', 172_800_000],
    ['1.5h', 5_400_000],
    ['1.5s', 1500],
    ['10min', 600_000],
    ['90min', 5_400_000],
    ['1h30min', 5_400_000],
    ['1m30s', 90_000],
    ['45m', 2_700_000],
    [' 2h ', 7_200_000],
    ['0', 0],
    ['', undefined],
    ['5', undefined],
    ['1x', undefined],
    ['h', undefined],
    ['soon', undefined],
    ['5 m', undefined],
    ['1h 30m', undefined],
    ['m5', undefined],
    ['10 s', undefined],
    ['-5s', undefined],
    ['5mins', undefined],
    ['1e3s', undefined],
    [`${'9'.repeat(400)}d`, undefined],
  ])('parseDurationMs(%j) = %s', (text, ms) => expect(parseDurationMs(text)).toBe(ms));

  test.each<[string, 'seconds' | 'minutes', number]>([
    ['2', 'seconds', 2000],
    ['10', 'seconds', 10_000],
    ['1.5', 'minutes', 90_000],
    ['15', 'minutes', 900_000],
    ['90s', 'minutes', 90_000],
  ])('a bare %j is %s where the caller says so', (text, bare, ms) => expect(parseDurationMs(text, { bare })).toBe(ms));

  test.each<[unknown, number | undefined]>([
    [5, 5000],
    ['10', 10_000],
    ['500ms', 500],
    ['1m30s', 90_000],
    ['2h', 7_200_000],
    ['1min', 60_000],
    ['x', undefined],
    ['10 s', undefined],
    [-1, undefined],
    [Number.NaN, undefined],
    [true, undefined],
    [null, undefined],
  ])('a YAML value %j with bare seconds = %s ms', (value, ms) => expect(durationValueMs(value, { bare: 'seconds' })).toBe(ms));

  test('a YAML number without a bare unit is not a duration', () => expect(durationValueMs(5)).toBeUndefined());
});

describe('readDurationMs', () => {
  test('names where the value came from and what was expected', () => {
    expect(() => readDurationMs('soon', '/etc/keel/lock.conf: MAX_HOLD', { bare: 'seconds' })).toThrow(
      '/etc/keel/lock.conf: MAX_HOLD: expected a duration such as 90s, 10m or 1h30m (or a number of seconds), found "soon"',
    );
    expect(() => readDurationMs('5', '--timeout')).toThrow('--timeout: expected a duration such as 90s, 10m or 1h30m, found "5"');
  });
  test.each(['', 'soon', '5 m', '1x', 'm5'])('refuses %j as invalid input', (t) => {
    expect(() => readDurationMs(t, 'timeout', { bare: 'seconds' })).toThrow(expect.objectContaining({ kind: 'invalid-input', message: expect.stringMatching(/^timeout: expected a duration/) }));
  });
  test('accepts what parseDurationMs accepts', () => expect(readDurationMs('90min', 'x')).toBe(5_400_000));
  test("a value that becomes a timer stays in node's timer range (a longer one fires after 1 ms)", () => {
    expect(readDurationMs('24d', '--timeout', { maxMs: longestTimerMs })).toBe(longestTimerMs);
    expect(() => readDurationMs('30d', '--timeout', { bare: 'seconds', maxMs: longestTimerMs })).toThrow('--timeout: expected a duration of at most 24d, found "30d"');
    expect(longestTimerMs).toBeLessThanOrEqual(2 ** 31 - 1);
  });
});

describe('formatting', () => {
  test.each([
    [0, '0s'],
    [90_000, '1m30s'],
    [86_400_000 + 1, '1d1ms'],
    [5_400_000, '1h30m'],
  ])('formatDuration(%i) = %s, which parses back', (ms, t) => {
    expect(formatDuration(ms)).toBe(t);
    expect(parseDurationMs(t)).toBe(ms);
  });
  test.each([[850, '850ms'], [12_000, '12s'], [192_000, '3m12s'], [7_500_000, '2h05m'], [3 * 86_400_000, '3d00h']])('formatElapsedMs(%d) = %s', (ms, t) => expect(formatElapsedMs(ms)).toBe(t));
  test.each([[1, '1s'], [0.2, '200ms'], [60, '60s'], [1.5, '1500ms']])('%s s as a systemd span is %s', (s, text) => expect(formatSystemdSpan(s)).toBe(text));
});
