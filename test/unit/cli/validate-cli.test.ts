// `./bin/keel cloud-config validate|schema` as a user runs it: the built bundle, real files,
// exit codes 0/1/2, the FILE:LINE:COL text format and the --json shape.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, test } from 'vitest';

const repo = join(import.meta.dirname, '../../..');
const fixtures = join(repo, 'test/fixtures/validate');
const f = (name: string) => join(fixtures, name);

function keel(args: string[], input?: string | Buffer) {
  const r = spawnSync(join(repo, 'bin/keel'), args, { cwd: repo, input, encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  const build = spawnSync('node', ['scripts/build.mjs'], { cwd: repo, encoding: 'utf8' });
  expect(build.status, build.stderr).toBe(0);
}, 120_000);

describe('keel cloud-config validate', () => {
  test('a valid file: exit 0, nothing printed', () => {
    expect(keel(['cloud-config', 'validate', f('valid.yaml')])).toEqual({ code: 0, stdout: '', stderr: '' });
  });

  test('warnings only: exit 0, each warning as FILE:LINE:COL', () => {
    const r = keel(['cloud-config', 'validate', f('warnings.yaml')]);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').filter(Boolean)).toEqual([
      `${f('warnings.yaml')}:2:1: warning: hostnme: unknown key "hostnme"; did you mean "hostname"? ignoring it`,
      `${f('warnings.yaml')}:5:18: warning: write_files[0].permissions: read the integer 0600 as octal mode 0600; quote it ("0600") to say so`,
      `${f('warnings.yaml')}:7:3: warning: coreos.fleet: coreos.fleet is not supported by keel (run containers with keel.containers); ignoring it`,
    ]);
  });

  test('--strict: warnings exit 1 too; a clean file still exits 0', () => {
    expect(keel(['cloud-config', 'validate', '--strict', f('warnings.yaml')]).code).toBe(1);
    expect(keel(['cloud-config', 'validate', '--strict', f('valid.yaml')]).code).toBe(0);
  });

  test('errors: exit 1, every problem located, deep list paths included', () => {
    const r = keel(['cloud-config', 'validate', f('errors.yaml')]);
    expect(r.code).toBe(1);
    expect(r.stdout.split('\n').filter(Boolean)).toEqual([
      `${f('errors.yaml')}:5:13: error: users[1].groups: expected a list of group names, found the string "wheel"`,
      `${f('errors.yaml')}:7:11: error: write_files[0].path: expected a path outside /usr (the os image is read-only), found "/usr/lib/evil"; refusing to write it`,
      `${f('errors.yaml')}:10:7: error: coreos.units[0]: missing required key "name"`,
      `${f('errors.yaml')}:12:19: error: coreos.locksmith.window_start: window_start is set but window_length is not; expected both or neither`,
    ]);
  });

  test('--json: one array for all files with file, severity, line, column, path, message', () => {
    const r = keel(['cloud-config', 'validate', '--json', f('valid.yaml'), f('warnings.yaml'), f('errors.yaml')]);
    expect(r.code).toBe(1);
    const problems = JSON.parse(r.stdout) as Record<string, unknown>[];
    expect(problems).toHaveLength(7);
    expect(problems[0]).toEqual({ file: f('warnings.yaml'), severity: 'warning', line: 2, column: 1, path: 'hostnme', message: 'unknown key "hostnme"; did you mean "hostname"? ignoring it' });
    expect(problems[3]).toEqual({ file: f('errors.yaml'), severity: 'error', line: 5, column: 13, path: 'users[1].groups', message: 'expected a list of group names, found the string "wheel"' });
    for (const p of problems) expect(Object.keys(p)).toEqual(['file', 'severity', 'line', 'column', 'path', 'message']);
  });

  test('--json with no problems prints an empty array', () => {
    const r = keel(['cloud-config', 'validate', '--json', f('valid.yaml')]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([]);
  });

  test('yaml syntax error: exit 1 with the parser position', () => {
    const r = keel(['cloud-config', 'validate', f('syntax.yaml')]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`^${f('syntax.yaml').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3:1: error: yaml syntax: `));
  });

  test('bad header: exit 1 at 1:1', () => {
    const r = keel(['cloud-config', 'validate', f('bad-header.yaml')]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(`${f('bad-header.yaml')}:1:1: error: bad header: the first line is "hostname: no-header"; expected #cloud-config, #! (a script) or a mime multipart message; refusing the user-data\n`);
  });

  test('a script and empty user-data are valid; --verbose says so on stderr', () => {
    expect(keel(['cloud-config', 'validate', f('script.sh'), f('empty.txt')])).toEqual({ code: 0, stdout: '', stderr: '' });
    const r = keel(['cloud-config', 'validate', '--verbose', f('script.sh'), f('empty.txt')]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(`${f('script.sh')}: a #! script; nothing to validate\n${f('empty.txt')}: empty user-data; nothing to validate\n`);
  });

  test('gzipped user-data is read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keel-validate-'));
    writeFileSync(join(dir, 'u.gz'), gzipSync('#cloud-config\nusers: x\n'));
    const r = keel(['cloud-config', 'validate', join(dir, 'u.gz')]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(`${join(dir, 'u.gz')}:2:8: error: users: expected a list of mappings, found the string "x"\n`);
  });

  test("'-' reads stdin and names it <stdin>", () => {
    const r = keel(['cloud-config', 'validate', '-'], '#cloud-config\ntimezone: Mars\n');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('<stdin>:2:11: error: timezone: expected a time zone such as UTC or Europe/Berlin, found "Mars"\n');
  });

  test('an unreadable file: named on stderr, exit 1, the other files still checked', () => {
    const r = keel(['cloud-config', 'validate', '/nonexistent/user-data', f('warnings.yaml')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('keel: cannot read /nonexistent/user-data: ENOENT; expected a readable file; not validated\n');
    expect(r.stdout.split('\n').filter(Boolean)).toHaveLength(3);
  });

  test('two deeply nested files in one --json call: two located answers, exit 1, nothing on stderr (issue 9)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keel-validate-'));
    writeFileSync(join(dir, 'flow.yaml'), `#cloud-config\nx: ${'['.repeat(400_000)}${']'.repeat(400_000)}\n`);
    writeFileSync(join(dir, 'dashes.yaml'), `#cloud-config\nruncmd:\n${'- '.repeat(300_000)}x\n`);
    const r = keel(['cloud-config', 'validate', '--json', join(dir, 'flow.yaml'), join(dir, 'dashes.yaml')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('');
    const message = 'collections are nested deeper than 100 levels; expected at most 100; refusing to read the document';
    expect(JSON.parse(r.stdout)).toEqual([
      { file: join(dir, 'flow.yaml'), severity: 'error', line: 2, column: 105, path: '', message },
      { file: join(dir, 'dashes.yaml'), severity: 'error', line: 3, column: 202, path: '', message },
    ]);
  });

  test('--json: the yaml library prints nothing on stderr (a collection as a key, aliases)', () => {
    const r = keel(['cloud-config', 'validate', '--json', '-'], '#cloud-config\nkeel:\n  ? [a, b]\n  : 1\nx: &x {a: 1}\ny: *x\n');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)[0]).toEqual({ file: '<stdin>', severity: 'error', line: 3, column: 5, path: 'keel', message: 'expected a plain key, found a list' });
  });

  test('invalid utf-8 is located at the byte; an undefined alias is named (issue 9)', () => {
    const bad = Buffer.concat([Buffer.from('#cloud-config\nhostname: a\nruncmd:\n  - echo h'), Buffer.from([0xff, 0xfe]), Buffer.from('\n')]);
    expect(keel(['cloud-config', 'validate', '-'], bad).stdout).toBe('<stdin>:4:11: error: invalid utf-8: byte 0xff at offset 44; expected utf-8 text (#cloud-config yaml or a #! script); refusing the user-data\n');
    expect(keel(['cloud-config', 'validate', '-'], '#cloud-config\nhostname: *nope\n').stdout).toBe(
      '<stdin>:2:11: error: undefined alias *nope; expected an anchor &nope defined before it; refusing to read the document\n',
    );
  });

  test('MIME multipart user-data: cloud-config parts checked where they sit in the file', () => {
    const text = ['Content-Type: multipart/mixed; boundary="B"', 'MIME-Version: 1.0', '', '--B', 'Content-Type: text/cloud-config', '', '#cloud-config', 'hostname: a', '--B', 'Content-Type: text/x-shellscript', '', '#!/bin/sh', 'echo hi', '--B', 'Content-Type: text/cloud-config', '', 'users: 5', '--B--', ''].join('\n');
    const r = keel(['cloud-config', 'validate', '-'], text);
    expect(r).toEqual({ code: 1, stdout: '<stdin>:17:8: error: users: expected a list of mappings, found the number 5\n', stderr: '' });
    expect(keel(['cloud-config', 'validate', '-'], text.replace('users: 5', 'users: []'))).toEqual({ code: 0, stdout: '', stderr: '' });
  });

  test('no FILE is a usage error: exit 2', () => {
    const r = keel(['cloud-config', 'validate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('expected FILE…');
  });

  test('an unknown option is a usage error: exit 2', () => {
    expect(keel(['cloud-config', 'validate', '--nope', f('valid.yaml')]).code).toBe(2);
  });

  test('--help', () => {
    const r = keel(['cloud-config', 'validate', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^usage: keel cloud-config validate \[options\] FILE…/);
    expect(r.stdout).toContain('--json');
  });
});

describe('keel cloud-config schema', () => {
  test('prints a draft 2020-12 JSON Schema', () => {
    const r = keel(['cloud-config', 'schema']);
    expect(r.code).toBe(0);
    const schema = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schema.type).toBe('object');
  });

  test('takes no arguments', () => {
    expect(keel(['cloud-config', 'schema', 'x']).code).toBe(2);
  });
});
