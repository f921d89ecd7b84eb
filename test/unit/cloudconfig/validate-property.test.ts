// Property tests: whatever the text, the validator answers (a config or problems, never a
// throw, never an internal error), problems are well-formed, and valid configs round-trip
// from generated YAML to the model.
import fc from 'fast-check';
import { stringify } from 'yaml';
import { gzipSync } from 'node:zlib';
import { describe, expect, test } from 'vitest';
import { validateCloudConfig } from '../../../src/cloudconfig/validate.js';
import type { Unit, User } from '../../../src/cloudconfig/model.js';
import type { UnitCommand } from '../../../src/systemd/unit-command.js';

const header = '#cloud-config\n';

function checkAnswer(text: string): void {
  const r = validateCloudConfig(text);
  for (const p of r.problems) {
    expect(['error', 'warning']).toContain(p.severity);
    expect(Number.isInteger(p.line) && p.line >= 0).toBe(true);
    expect(Number.isInteger(p.column) && p.column >= 0).toBe(true);
    expect(typeof p.path).toBe('string');
    expect(p.message).not.toMatch(/^internal validator error/);
    expect(p.message).toBe(p.message.trim());
  }
  const hasError = r.problems.some((p) => p.severity === 'error');
  expect(r.config === undefined).toBe(hasError);
}

const keys = ['hostname', 'users', 'name', 'groups', 'write_files', 'path', 'content', 'encoding', 'permissions', 'coreos', 'keel', 'units', 'update', 'reboot-strategy', 'locksmith', 'window_start', 'window_length', 'etcd2', 'containers', 'specs', 'image', 'ports', 'runcmd', 'sudo', 'x'];
const scalars = ['a', '0644', '"0644"', '1h', 'true', 'no', '~', '', '[]', '{}', '-1', '1.5', '/etc/x', '/usr/y', 'b64', 'Thu 23:00', '"25:00"', '&a x', '*a', '!!binary aGk=', '"\\u0000"', "'q'", '|', '>-', 'etcd-lock'];

/** Lines of indented `key: value` / `- value` in random nesting, which mostly parse. */
const yamlish = fc
  .array(
    fc.record({
      indent: fc.integer({ min: 0, max: 4 }),
      dash: fc.boolean(),
      key: fc.option(fc.constantFrom(...keys), { nil: undefined }),
      value: fc.constantFrom(...scalars),
    }),
    { maxLength: 25 },
  )
  .map((lines) => lines.map((l) => `${'  '.repeat(l.indent)}${l.dash ? '- ' : ''}${l.key ? `${l.key}: ` : ''}${l.value}`).join('\n'));

describe('the validator never crashes', () => {
  test('random YAML-ish documents', () => {
    fc.assert(fc.property(yamlish, (body) => checkAnswer(header + body)), { numRuns: 400 });
  });

  test('random text after the header', () => {
    fc.assert(fc.property(fc.string({ maxLength: 200, unit: 'binary' }), (body) => checkAnswer(header + body)), { numRuns: 400 });
  });

  test('arbitrary JSON values written as YAML, under known sections', () => {
    const section = fc.constantFrom('users', 'write_files', 'coreos', 'keel', 'runcmd', 'hostname', 'timezone');
    fc.assert(
      fc.property(fc.dictionary(section, fc.jsonValue({ maxDepth: 4 }), { maxKeys: 4 }), (value) => checkAnswer(header + stringify(value))),
      { numRuns: 300 },
    );
  });

  test('arbitrary values in every slot of a realistic config', () => {
    const slot = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constantFrom(...scalars));
    fc.assert(
      fc.property(slot, slot, slot, slot, slot, slot, (a, b, c, d, e, f) =>
        checkAnswer(
          header +
            stringify({
              users: [{ name: 'ops', groups: a, sudo: b }],
              write_files: [{ path: '/etc/x', content: c, encoding: d, permissions: e }],
              coreos: { units: [{ name: 'a.service', command: f }], locksmith: { window_start: a, window_length: b } },
              keel: { containers: { specs: [{ name: 'web', image: 'x', ports: [c], volumes: [d], restart: e, health: { command: f } }] } },
            }),
        ),
      ),
      { numRuns: 300 },
    );
  });

  const valid = [
    header,
    'hostname: node-1',
    'users:',
    '  - name: ops',
    '    groups: [wheel, docker]',
    '    sudo: ALL=(ALL) NOPASSWD:ALL',
    'write_files:',
    '  - path: /etc/motd',
    '    permissions: "0600"',
    '    encoding: b64',
    '    content: aGVsbG8K',
    'coreos:',
    '  units:',
    '    - name: etcd.service',
    '      command: start',
    '      drop-ins: [{name: 10-a.conf, content: x}]',
    '  locksmith: {window_start: Thu 23:00, window_length: 1h}',
    'keel:',
    '  containers:',
    '    specs: [{name: web, image: nginx, ports: ["8080:80"], restart: on-failure:3}]',
  ].join('\n');

  test('the base of the mutation test is valid', () => {
    expect(validateCloudConfig(valid).problems).toEqual([]);
  });

  test('mutated valid configs: deleted, inserted, duplicated and re-indented characters and lines', () => {
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 8 }) }),
      fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: fc.constantFrom(' ', '\n', ':', '-', '[', '{', '"', '*a', '&a', '\t', '#', '  - x', 'zz: 1') }),
      fc.record({ kind: fc.constant('duplicate-line' as const), at: fc.nat() }),
      fc.record({ kind: fc.constant('swap-lines' as const), at: fc.nat() }),
    );
    const apply = (text: string, m: fc.Arbitrary<unknown> extends never ? never : { kind: string; at: number; length?: number; text?: string }) => {
      const at = m.at % (text.length + 1);
      const lines = text.split('\n');
      const li = 1 + (m.at % Math.max(1, lines.length - 1));
      switch (m.kind) {
        case 'delete':
          return text.slice(0, Math.max(header.length, at)) + text.slice(Math.max(header.length, at) + (m.length ?? 1));
        case 'insert':
          return text.slice(0, Math.max(header.length, at)) + m.text + text.slice(Math.max(header.length, at));
        case 'duplicate-line':
          lines.splice(li, 0, lines[li] ?? '');
          return lines.join('\n');
        default:
          if (li + 1 < lines.length) [lines[li], lines[li + 1]] = [lines[li + 1]!, lines[li]!];
          return lines.join('\n');
      }
    };
    fc.assert(fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (ms) => checkAnswer(ms.reduce(apply, valid))), { numRuns: 500 });
  });

  test('the same text always gives the same answer', () => {
    fc.assert(
      fc.property(yamlish, (body) => {
        const a = validateCloudConfig(header + body);
        const b = validateCloudConfig(header + body);
        expect(JSON.stringify(a)).toBe(JSON.stringify(b));
      }),
      { numRuns: 100 },
    );
  });
});

describe('valid configs round-trip to the model', () => {
  const name = fc.stringMatching(/^[a-z_][a-z0-9_-]{0,15}$/);
  const user = fc.record({ name, groups: fc.array(name, { maxLength: 3 }), system: fc.option(fc.boolean(), { nil: undefined }), sudo: fc.option(fc.oneof(fc.constant(false), fc.array(fc.constantFrom('ALL=(ALL) ALL', 'ALL=(ALL) NOPASSWD:ALL'), { minLength: 1, maxLength: 2 })), { nil: undefined }) });
  const file = fc.record({
    path: fc.stringMatching(/^\/(etc|var|opt|home)(\/[a-z0-9._-]{1,10}){1,3}$/).filter((p) => !p.split('/').includes('..') && !/\/\.(\/|$)/.test(p)),
    content: fc.string({ maxLength: 200 }),
    encoding: fc.constantFrom('plain', 'b64', 'gz+b64', 'gzip+base64', 'base64'),
    mode: fc.integer({ min: 0, max: 0o7777 }),
    append: fc.boolean(),
  });
  const unit = fc.record({
    name: fc.tuple(fc.stringMatching(/^[a-z][a-z0-9-]{0,12}$/), fc.constantFrom('service', 'timer', 'socket', 'mount', 'path', 'target')).map(([n, s]) => `${n}.${s}`),
    command: fc.option(fc.constantFrom<UnitCommand>('start', 'stop', 'restart', 'reload', 'try-restart', 'reload-or-restart', 'reload-or-try-restart'), { nil: undefined }),
    enable: fc.option(fc.boolean(), { nil: undefined }),
    runtime: fc.option(fc.boolean(), { nil: undefined }),
  });

  test('users, files and units', () => {
    fc.assert(
      fc.property(fc.array(user, { maxLength: 4 }), fc.array(file, { maxLength: 4 }), fc.array(unit, { maxLength: 4 }), fc.array(unit, { maxLength: 2 }), (users, files, coreosUnits, keelUnits) => {
        const encode = (f: (typeof files)[number]) => {
          const bytes = Buffer.from(f.content, 'utf8');
          if (f.encoding === 'plain') return f.content;
          if (f.encoding === 'b64' || f.encoding === 'base64') return bytes.toString('base64');
          return gzipSync(bytes).toString('base64');
        };
        const text =
          header +
          stringify({
            users: users.map((u) => ({ name: u.name, groups: u.groups, ...(u.system !== undefined ? { system: u.system } : {}), ...(u.sudo !== undefined ? { sudo: u.sudo } : {}) })),
            write_files: files.map((f) => ({ path: f.path, content: encode(f), ...(f.encoding === 'plain' ? {} : { encoding: f.encoding }), permissions: `0${f.mode.toString(8)}`, append: f.append })),
            coreos: { units: coreosUnits },
            keel: { units: keelUnits },
          });
        const { config, problems } = validateCloudConfig(text);
        expect(problems.filter((p) => p.severity === 'error')).toEqual([]);
        expect(config!.users).toEqual(
          users.map((u): User => ({ name: u.name, groups: u.groups, sshAuthorizedKeys: [], ...(u.system !== undefined ? { system: u.system } : {}), ...(u.sudo !== undefined ? { sudo: u.sudo === false ? [] : u.sudo } : {}) })),
        );
        expect(config!.writeFiles.map((f) => [f.path, Buffer.from(f.content).toString('utf8'), f.permissions, f.append])).toEqual(files.map((f) => [f.path, f.content, f.mode, f.append]));
        expect(config!.units).toEqual(
          [...coreosUnits, ...keelUnits].map((u): Unit => {
            const out: Unit = { name: u.name, dropIns: [] };
            if (u.enable !== undefined) out.enable = u.enable;
            if (u.runtime !== undefined) out.runtime = u.runtime;
            if (u.command !== undefined) out.command = u.command;
            return out;
          }),
        );
      }),
      { numRuns: 200 },
    );
  });
});
