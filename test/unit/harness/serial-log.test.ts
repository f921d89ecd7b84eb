import { describe, expect, test } from 'vitest';
import { cleanConsoleText, formatSerialLine, SerialLog } from '../../harness/serial-log.js';

describe('SerialLog', () => {
  test('timestamps each line by when its first byte arrived, relative to the run start', () => {
    const log = new SerialLog();
    log.startRun(1000);
    log.feed('Linux version', 1100);
    log.feed(' 6.1\nsecond', 1500);
    log.feed(' line\n', 2000);
    expect(log.lines).toEqual([
      { ms: 100, run: 1, text: 'Linux version 6.1' },
      { ms: 500, run: 1, text: 'second line' },
    ]);
  });

  test('a restart starts a new run with its own clock and ends the partial line', () => {
    const log = new SerialLog();
    log.startRun(0);
    log.feed('login: ', 10);
    expect(log.startRun(5000)).toBe(2);
    log.feed('again\n', 5200);
    expect(log.lines).toEqual([
      { ms: 10, run: 1, text: 'login: ' },
      { ms: 200, run: 2, text: 'again' },
    ]);
  });

  test('take moves past each match, so the same marker finds the second boot', () => {
    const log = new SerialLog();
    log.startRun(0);
    log.feed('boot\nReached target multi-user\nreboot\nboot\nReached target multi-user\n', 1);
    expect(log.take(/multi-user/)?.index).toBe(1);
    expect(log.take(/multi-user/)?.index).toBe(4);
    expect(log.take(/multi-user/)).toBeUndefined();
    expect(log.find(/multi-user/)?.index).toBe(1);
  });

  test.each([
    { partial: false, expected: undefined },
    { partial: true, expected: 'login: ' },
  ])('a prompt without newline matches only when partial lines are allowed ($partial)', ({ partial, expected }) => {
    const log = new SerialLog();
    log.startRun(0);
    log.feed('\nkeel login: ', 5);
    expect(log.take(/login: $/, { partial })?.match[0]).toBe(expected);
  });

  test('a partial match is not matched again once its line completes', () => {
    const log = new SerialLog();
    log.startRun(0);
    log.feed('keel login: ', 5);
    expect(log.take(/login:/, { partial: true })?.index).toBe(0);
    log.feed('root\n', 9);
    expect(log.take(/login:/, { partial: true })).toBeUndefined();
  });

  test('after: a marker that came before (or on the line of) one already taken is still found, and the cursor does not move back', () => {
    const log = new SerialLog();
    log.startRun(0);
    // The getty's prompt, then a service's console line on the same line, then later lines.
    log.feed('error: nothing applied\nkeel login: keel-boot: ready slot=a\nlater\nlast\n', 5);
    const error = log.take(/nothing applied/)!;
    expect(log.take(/keel-boot: ready/)?.index).toBe(1);
    expect(log.take(/ login: /)).toBeUndefined();
    expect(log.take(/ login: /, { after: error })?.index).toBe(1);
    expect(log.take(/last/)?.index).toBe(3);
    expect(log.take(/later/, { after: error })?.index).toBe(2);
    expect(log.cursor).toBe(4);
  });

  test('tail formats the last lines with their timestamps', () => {
    const log = new SerialLog();
    log.startRun(0);
    log.feed('a\nb\nc', 1234);
    expect(log.tail(2)).toBe('[   1.234] b\n[   1.234] c');
  });
});

test.each([
  { raw: '\x1b[0;32m  OK  \x1b[0m] Started foo\r', clean: '  OK  ] Started foo' },
  { raw: '\x1b[?25lhidden cursor\x1b[?25h', clean: 'hidden cursor' },
  { raw: 'bell\x07 and tab\tkept', clean: 'bell and tab\tkept' },
])('cleanConsoleText($raw)', ({ raw, clean }) => {
  expect(cleanConsoleText(raw)).toBe(clean);
});

test.each([
  { line: { ms: 0, run: 1, text: 'x' }, out: '[   0.000] x' },
  { line: { ms: 61_005, run: 2, text: 'y' }, out: '[  61.005] #2 y' },
])('formatSerialLine $out', ({ line, out }) => {
  expect(formatSerialLine(line)).toBe(out);
});
