// Small configs that cost minutes and gigabytes before issue 9 (defects 2, 3, 4, 11): aliases
// used honestly, gzip content behind many aliases, deep nesting, invalid UTF-8. Each answer is
// located, and what is decoded is decoded once.
import { gzipSync } from 'node:zlib';
import { describe, expect, test } from 'vitest';
import { ContentDecoder, decodeGzip, maxFileContentBytes } from '../../../src/cloudconfig/decode-content.js';
import { planUserData } from '../../../src/cloudconfig/pipeline.js';
import { readUserData, UserDataError } from '../../../src/cloudconfig/user-data.js';
import { validateCloudConfig } from '../../../src/cloudconfig/validate.js';

const doc = (body: string) => `#cloud-config\n${body}\n`;
const bytes = (t: string) => new Uint8Array(Buffer.from(t, 'utf8'));

describe('aliases (defect 2)', () => {
  test('100 anchors each used 99 times: a valid 90 KB config validates', () => {
    const lines = ['write_files:'];
    for (let i = 0; i < 100; i++) lines.push(`  - path: /etc/f${i}`, `    content: &a${i} x${i}`);
    lines.push('runcmd:');
    for (let u = 0; u < 99; u++) for (let i = 0; i < 100; i++) lines.push(`  - *a${i}`);
    const text = doc(lines.join('\n'));
    expect(text.length).toBeGreaterThan(90_000);
    const r = validateCloudConfig(text);
    expect(r.problems).toEqual([]);
    expect(r.config!.runcmd).toHaveLength(9900);
  });

  test('an undefined alias is an undefined alias, not an alias bomb', () => {
    expect(validateCloudConfig(doc('hostname: *nope')).problems).toEqual([
      { severity: 'error', path: '', line: 2, column: 11, message: 'undefined alias *nope; expected an anchor &nope defined before it; refusing to read the document' },
    ]);
  });
});

describe('gzip content (defect 3)', () => {
  const gz16 = gzipSync(Buffer.alloc(maxFileContentBytes)).toString('base64');

  test('one 16 MiB gzip entry aliased 99 times is refused by the total, decoded once', () => {
    const text = doc(`write_files:\n  - &f {path: /etc/f0, encoding: gz+b64, content: ${gz16}}\n${'  - *f\n'.repeat(99)}`);
    expect(text.length).toBeLessThan(24_000);
    const r = validateCloudConfig(text);
    expect(r.problems).toEqual([
      { severity: 'error', path: 'write_files', line: 3, column: 3, message: `the files hold ${100 * maxFileContentBytes} bytes together; expected at most ${maxFileContentBytes}; refusing to write them` },
    ]);
  });

  test('an aliased entry shares its decoded bytes: one decoding per distinct content', () => {
    const small = gzipSync(Buffer.alloc(1024, 7)).toString('base64');
    const r = validateCloudConfig(doc(`write_files:\n  - &f {path: /etc/a, encoding: gz+b64, content: ${small}}\n  - *f\n  - {path: /etc/b, encoding: gz+b64, content: ${small}}`));
    expect(r.problems).toEqual([]);
    const [a, again, b] = r.config!.writeFiles;
    expect(a!.content).toHaveLength(1024);
    expect(again!.content).toBe(a!.content);
    expect(b!.content).toBe(a!.content);
  });

  test('distinct contents share one budget: decoding stops where the budget ends', () => {
    const decoder = new ContentDecoder(1000);
    const first = decoder.decode(gzipSync(Buffer.alloc(600, 1)).toString('base64'), 'gzip+base64');
    expect(first.ok).toBe(true);
    expect(decoder.decode(gzipSync(Buffer.alloc(600, 2)).toString('base64'), 'gzip+base64')).toEqual({
      ok: false,
      message: 'content decodes to more than the 400 bytes left of the 1000 all files may hold together; expected at most that',
    });
  });

  test('many small gzip bombs in one document are refused within one budget, each located', () => {
    const bombs = Array.from({ length: 8 }, (_, i) => `  - {path: /etc/b${i}, encoding: gz+b64, content: ${gzipSync(Buffer.alloc(4 * 1024 * 1024, i)).toString('base64')}}`);
    const r = validateCloudConfig(doc(`write_files:\n${bombs.join('\n')}`));
    expect(r.config).toBeUndefined();
    expect(r.problems.map((p) => [p.path, p.line])).toEqual([
      ['write_files[4].content', 7],
      ['write_files[5].content', 8],
      ['write_files[6].content', 9],
      ['write_files[7].content', 10],
    ]);
  });

  test('only the size bound reads "decompresses to more than"; a gzip error says what it is', () => {
    expect(decodeGzip(gzipSync(Buffer.alloc(2048)), 1024)).toEqual({ ok: false, message: 'content decompresses to more than 1024 bytes; expected at most that' });
    expect(decodeGzip(new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0]), 1024)).toMatchObject({ ok: false, message: expect.stringMatching(/^content does not gunzip/) });
    // A RangeError that is not zlib's bound (here: a bound zlib cannot take; under a memory cap, a failed allocation) is not "too large".
    expect(decodeGzip(gzipSync('x'), 2 ** 53)).toEqual({ ok: false, message: expect.stringMatching(/^content could not be decompressed \(the value of "options.maxoutputlength" is out of range/) });
  });
});

describe('deep nesting (defect 4)', () => {
  test('a deeply nested config is one located error', () => {
    const r = validateCloudConfig(doc(`runcmd: ${'['.repeat(100_000)}${']'.repeat(100_000)}`));
    expect(r.problems).toEqual([{ severity: 'error', path: '', line: 2, column: 110, message: 'collections are nested deeper than 100 levels; expected at most 100; refusing to read the document' }]);
  });
});

describe('invalid UTF-8 (defect 11)', () => {
  test.each([
    ['a lone 0xff on line 4', Buffer.concat([Buffer.from('#cloud-config\nhostname: a\nruncmd:\n  - echo h'), Buffer.from([0xff]), Buffer.from('\n')]), 4, 11, 'ff'],
    ['a cut multi-byte sequence after é', Buffer.concat([Buffer.from('#cloud-config\nhostname: é'), Buffer.from([0xe2, 0x82])]), 2, 12, 'e2'],
    ['an overlong encoding', Buffer.concat([Buffer.from('#cloud-config\n'), Buffer.from([0xc0, 0xaf])]), 2, 1, 'c0'],
    ['a surrogate half', Buffer.concat([Buffer.from('#!/bin/sh\necho '), Buffer.from([0xed, 0xa0, 0x80])]), 2, 6, 'ed'],
    ['after a BOM', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('#x'), Buffer.from([0x80])]), 1, 3, '80'],
  ])('%s: refused at the byte', (_name, data, line, column, byte) => {
    try {
      readUserData(new Uint8Array(data));
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(UserDataError);
      expect(error).toMatchObject({ line, column, kind: 'invalid-input' });
      expect((error as Error).message).toMatch(new RegExp(`^invalid utf-8: byte 0x${byte} at offset \\d+; expected utf-8 text`));
    }
  });

  test('planning reports the same location', () => {
    const r = planUserData({ userData: new Uint8Array([...bytes('#cloud-config\nhostname: a\n  '), 0xfe]), metadata: { sshPublicKeys: [] }, live: false });
    expect(r).toMatchObject({ ok: false, problems: [{ severity: 'error', line: 3, column: 3 }] });
  });
});
