// MIME multipart user-data (issue 9, defect 11): text/cloud-config parts validated where they
// sit in the file and merged as cloud-init merges them by default; text/x-shellscript parts
// run before runcmd; other types skipped with a warning.
import { describe, expect, test } from 'vitest';
import { validateMultipart } from '../../../src/cloudconfig/multipart-config.js';
import { readMultipart } from '../../../src/cloudconfig/multipart.js';
import { planUserData } from '../../../src/cloudconfig/pipeline.js';
import { readUserData } from '../../../src/cloudconfig/user-data.js';

const mime = (parts: string[], boundary = 'XYZ') =>
  [`Content-Type: multipart/mixed; boundary="${boundary}"`, 'MIME-Version: 1.0', '', ...parts.flatMap((p) => [`--${boundary}`, p]), `--${boundary}--`, ''].join('\n');
const part = (type: string, body: string, extra: string[] = []) => [`Content-Type: ${type}; charset="us-ascii"`, ...extra, '', body].join('\n');
const bytes = (t: string) => new Uint8Array(Buffer.from(t, 'utf8'));

describe('readMultipart', () => {
  test('splits parts and keeps the file line each body starts on', () => {
    const text = mime([part('text/cloud-config', '#cloud-config\nhostname: a'), part('text/x-shellscript', '#!/bin/sh\necho hi', ['Content-Disposition: attachment; filename="hi.sh"'])]);
    const m = readUserData(bytes(text));
    expect(m).toEqual({
      kind: 'multipart',
      parts: [
        { type: 'cloud-config', text: '#cloud-config\nhostname: a', firstLine: 7, encoded: false },
        { type: 'script', text: '#!/bin/sh\necho hi', firstLine: 13, encoded: false, filename: 'hi.sh' },
      ],
      problems: [],
    });
  });

  test('other part types are skipped with a located warning', () => {
    const m = readMultipart(mime([part('text/cloud-boothook', '#cloud-boothook\necho x')]));
    expect(m.parts).toEqual([]);
    expect(m.problems).toEqual([{ severity: 'warning', path: '', line: 5, column: 1, message: 'a part of type text/cloud-boothook; expected text/cloud-config or text/x-shellscript (the types keel reads); ignoring the part' }]);
  });

  test('a base64 part is decoded', () => {
    const m = readMultipart(mime([part('text/cloud-config', Buffer.from('hostname: b\n').toString('base64'), ['Content-Transfer-Encoding: base64'])]));
    expect(m.parts).toEqual([{ type: 'cloud-config', text: 'hostname: b\n', firstLine: 8, encoded: true }]);
  });

  test.each([
    ['no boundary', 'Content-Type: multipart/mixed\n\nx\n', 1, 'a multipart/mixed message without a boundary parameter'],
    ['quoted-printable', mime([part('text/cloud-config', 'a=3Db', ['Content-Transfer-Encoding: quoted-printable'])]), 6, 'Content-Transfer-Encoding quoted-printable; expected 7bit, 8bit, binary or base64'],
    ['no part', 'Content-Type: multipart/mixed; boundary=B\n\nnothing here\n', 3, 'no part starts with --B'],
  ])('%s is refused at its line', (_n, text, line, message) => {
    const p = readMultipart(text).problems.find((x) => x.severity === 'error');
    expect(p).toMatchObject({ line, column: 1, message: expect.stringContaining(message) });
  });
});

describe('validateMultipart', () => {
  test('a problem in a part is located at its line in the file', () => {
    const m = readMultipart(mime([part('text/cloud-config', '#cloud-config\nhostname: a'), part('text/cloud-config', '#cloud-config\nusers: 5')]));
    expect(validateMultipart(m).problems).toEqual([{ severity: 'error', path: 'users', line: 13, column: 8, message: 'expected a list of mappings, found the number 5' }]);
  });

  test("later parts replace earlier parts' top-level keys (cloud-init's default merge); other keys are kept", () => {
    const m = readMultipart(mime([part('text/cloud-config', 'hostname: a\nruncmd: [one]\ntimezone: UTC'), part('text/cloud-config', 'hostname: b\nruncmd: [two]')]));
    const r = validateMultipart(m);
    expect(r.problems).toEqual([]);
    expect(r.config).toMatchObject({ hostname: 'b', runcmd: ['two'], timezone: 'UTC' });
  });

  test('script parts become files run before runcmd, in part order', () => {
    const m = readMultipart(mime([part('text/x-shellscript', '#!/bin/sh\necho 1'), part('text/cloud-config', 'runcmd: [last]'), part('text/x-shellscript', '#!/bin/sh\necho 3', ['Content-Disposition: attachment; filename="three.sh"'])]));
    const r = validateMultipart(m);
    expect(r.config!.runcmd).toEqual([['/var/lib/keel/scripts/part-001'], ['/var/lib/keel/scripts/part-003-three.sh'], 'last']);
    expect(r.config!.writeFiles.map((f) => [f.path, f.permissions, Buffer.from(f.content).toString()])).toEqual([
      ['/var/lib/keel/scripts/part-001', 0o700, '#!/bin/sh\necho 1'],
      ['/var/lib/keel/scripts/part-003-three.sh', 0o700, '#!/bin/sh\necho 3'],
    ]);
  });

  test('a base64 part is checked; its problems are located at the part', () => {
    const m = readMultipart(mime([part('text/cloud-config', Buffer.from('hostname: a\nusers: 5\n').toString('base64'), ['Content-Transfer-Encoding: base64'])]));
    expect(validateMultipart(m).problems).toEqual([{ severity: 'error', path: 'users', line: 8, column: 1, message: 'in the base64 part, at its line 2:8: expected a list of mappings, found the number 5' }]);
  });
});

describe('planUserData with multipart user-data', () => {
  test('substitutes metadata in cloud-config parts and plans the merged config', () => {
    const text = mime([part('text/cloud-config', 'hostname: $private_ipv4'), part('text/x-shellscript', '#!/bin/sh\necho $private_ipv4')]);
    const r = planUserData({ userData: bytes(text), metadata: { sshPublicKeys: [], privateIpv4: '10.0.0.5' }, live: true });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const ops = r.plan.operations.map((o) => o.kind);
    expect(ops).toContain('set-hostname');
    expect(JSON.stringify(r.plan)).toContain('10.0.0.5');
    expect(JSON.stringify(r.plan)).toContain('/var/lib/keel/scripts/part-002');
  });
});
