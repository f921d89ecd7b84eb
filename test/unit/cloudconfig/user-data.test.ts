// Raw user-data bytes → cloud-config, script, empty, or a refusal.
import { gzipSync } from 'node:zlib';
import { describe, expect, test } from 'vitest';
import { KeelError } from '../../../src/errors.js';
import { classifyUserData, gunzipBounded, isGzip, maxUserDataBytes, readUserData } from '../../../src/cloudconfig/user-data.js';

const bytes = (t: string) => new Uint8Array(Buffer.from(t, 'utf8'));

describe('readUserData', () => {
  test.each([
    ['#cloud-config', '#cloud-config\nhostname: a\n', 'cloud-config'],
    ['#cloud-config with trailing space and CRLF', '#cloud-config  \r\nhostname: a\r\n', 'cloud-config'],
    ['#! script', '#!/bin/sh\necho hi\n', 'script'],
    ['#! with a space', '#! /usr/bin/env bash\n', 'script'],
    ['empty', '', 'empty'],
    ['whitespace only', ' \n\t\n', 'empty'],
    ['header alone', '#cloud-config', 'cloud-config'],
  ])('%s', (_n, t, kind) => {
    expect(readUserData(bytes(t)).kind).toBe(kind);
  });

  test('the text keeps the header so line numbers match the file', () => {
    expect(readUserData(bytes('#cloud-config\nx: 1\n'))).toEqual({ kind: 'cloud-config', text: '#cloud-config\nx: 1\n' });
  });

  test('a UTF-8 BOM is dropped', () => {
    expect(readUserData(new Uint8Array([0xef, 0xbb, 0xbf, ...bytes('#cloud-config\n')]))).toEqual({ kind: 'cloud-config', text: '#cloud-config\n' });
  });

  test('gzipped user-data is undone first', () => {
    expect(readUserData(new Uint8Array(gzipSync('#cloud-config\nhostname: z\n')))).toEqual({ kind: 'cloud-config', text: '#cloud-config\nhostname: z\n' });
    expect(readUserData(new Uint8Array(gzipSync('#!/bin/sh\n'))).kind).toBe('script');
  });

  test.each([
    ['yaml without a header', 'hostname: a\n', /^bad header: the first line is "hostname: a"; expected #cloud-config, #! \(a script\) or a mime multipart message; refusing the user-data$/],
    ['#cloud-config with words after it', '#cloud-config please\n', /^bad header/],
    ['#cloud-boothook', '#cloud-boothook\n', /^bad header/],
    ['a comment first', '# hello\n#cloud-config\n', /^bad header/],
    ['indented header', ' #cloud-config\n', /^bad header/],
  ])('refuses %s', (_n, t, message) => {
    expect(() => readUserData(bytes(t))).toThrow(message);
  });

  test('refusals are invalid-input KeelErrors', () => {
    try {
      readUserData(bytes('nope'));
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(KeelError);
      expect((error as KeelError).kind).toBe('invalid-input');
    }
  });

  test('invalid UTF-8 is refused', () => {
    expect(() => readUserData(new Uint8Array([0x23, 0x21, 0xff, 0xfe]))).toThrow('invalid utf-8: byte 0xff at offset 2; expected utf-8 text');
  });

  test('broken gzip is refused', () => {
    expect(() => readUserData(new Uint8Array([0x1f, 0x8b, 8, 0, 1, 2, 3]))).toThrow(/^user-data starts like gzip but does not decompress/);
  });

  test('a gzip bomb is refused at the 16 MiB bound', () => {
    const bomb = new Uint8Array(gzipSync(Buffer.alloc(maxUserDataBytes + 1)));
    expect(bomb.length).toBeLessThan(64 * 1024);
    expect(() => readUserData(bomb)).toThrow(`gzipped user-data decompresses to more than ${maxUserDataBytes} bytes`);
  });

  test('plain user-data over 16 MiB is refused', () => {
    expect(() => readUserData(new Uint8Array(maxUserDataBytes + 1).fill(0x20))).toThrow(`user-data is ${maxUserDataBytes + 1} bytes`);
  });

  test('gunzipBounded leaves non-gzip bytes alone; isGzip looks at the magic only', () => {
    const b = bytes('abc');
    expect(gunzipBounded(b)).toBe(b);
    expect(isGzip(new Uint8Array([0x1f, 0x8b]))).toBe(true);
    expect(isGzip(new Uint8Array([0x1f]))).toBe(false);
  });

  test('classifyUserData is the same decision on text', () => {
    expect(classifyUserData('#!/bin/sh')).toEqual({ kind: 'script', text: '#!/bin/sh' });
  });
});
