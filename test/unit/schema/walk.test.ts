// The generic toolkit on its own small schemas: every kind, located problems, near misses,
// key folding, refine, unions and the parser's limits.
import { describe, expect, test } from 'vitest';
import { duration, editDistance, formatDuration, nearMiss, octalMode, parseDurationMs, readYaml, s, type Schema } from '../../../src/schema/index.js';

const spec = s.object({
  name: s.required(s.string({ minLength: 1 })),
  count: s.integer({ minimum: 1, maximum: 10 }),
  ratio: s.number({ minimum: 0, maximum: 1 }),
  on: s.boolean(),
  mode: s.enum(['fast', 'slow']),
  tags: s.list(s.string(), { expected: 'a list of tags' }),
  perm: octalMode(),
  every: duration({ minMs: 1000 }),
  env: s.map(s.string({ coerce: 'silent' }), { normalizeKeys: false, keyPattern: /^[A-Z_]+$/, keyPatternText: 'an upper-case name' }),
  old_thing: s.deprecated(s.any(), 'old_thing is gone; ignoring it', { ignored: true }),
  renamed: s.deprecated(s.string(), 'renamed is deprecated; use name'),
  either: s.union([s.string(), s.list(s.string())]),
  nested: s.object({ deep: s.list(s.object({ x: s.integer() })) }),
});

type Row = [string, string, [string, string, number, number, string][]];
const rows: Row[] = [
  ['a valid document', 'name: a\ncount: 3\nratio: 0.5\non: true\nmode: fast\ntags: [a, b]', []],
  ['missing required key at the map', 'count: 3', [['error', '', 1, 1, 'missing required key "name"']]],
  ['integer out of range', 'name: a\ncount: 11', [['error', 'count', 2, 8, 'expected an integer from 1 to 10, found 11']]],
  ['integer that is a float', 'name: a\ncount: 1.5', [['error', 'count', 2, 8, 'expected an integer from 1 to 10, found the number 1.5']]],
  ['quoted number coerced', 'name: a\ncount: "4"', [['warning', 'count', 2, 8, 'read the string "4" as the number 4; expected an integer from 1 to 10']]],
  ['number below minimum', 'name: a\nratio: -0.1', [['error', 'ratio', 2, 8, 'expected a number from 0 to 1, found -0.1']]],
  ['boolean from a word', 'name: a\non: off', [['warning', 'on', 2, 5, 'read the string "off" as false']]],
  ['enum near miss', 'name: a\nmode: fats', [['error', 'mode', 2, 7, 'expected one of fast or slow, found "fats"; did you mean fast?']]],
  ['list expected', 'name: a\ntags: x', [['error', 'tags', 2, 7, 'expected a list of tags, found the string "x"']]],
  ['deep index path', 'name: a\nnested:\n  deep:\n    - x: 1\n    - x: b', [['error', 'nested.deep[1].x', 5, 10, 'expected an integer, found the string "b"']]],
  ['free map key pattern', 'name: a\nenv:\n  lower: 1', [['error', 'env.lower', 3, 3, 'expected a key that is an upper-case name, found "lower"']]],
  ['free map keeps - when not normalising', 'name: a\nenv:\n  A-B: 1', [['error', 'env.A-B', 3, 3, 'found "A-B"']]],
  ['deprecated and ignored', 'name: a\nold-thing: [whatever, {}]', [['warning', 'old_thing', 2, 1, 'old_thing is gone; ignoring it']]],
  ['deprecated but still checked', 'name: a\nrenamed: [x]', [
    ['warning', 'renamed', 2, 1, 'renamed is deprecated; use name'],
    ['error', 'renamed', 2, 10, 'expected a string, found a list'],
  ]],
  ['union by shape: mapping fits neither', 'name: a\neither: {a: 1}', [['error', 'either', 2, 9, 'expected a string or a list of strings, found a mapping']]],
  ['octal string', 'name: a\nperm: "0755"', []],
  ['octal out of alphabet', 'name: a\nperm: "0855"', [['error', 'perm', 2, 7, 'expected an octal mode such as "0644", found "0855"']]],
  ['duration too short', 'name: a\nevery: 500ms', [['error', 'every', 2, 8, 'expected a duration of at least 1s, found "500ms"']]],
  ['duration garbage', 'name: a\nevery: 5 minutes', [['error', 'every', 2, 8, 'expected a duration such as 90s, 10m or 1h30m, found "5 minutes"']]],
  ['complex key', 'name: a\n[x]: 1', [['error', '', 2, 1, 'expected a plain key, found a list']]],
  ['empty value of an optional key warns', 'name: a\ncount:', [['warning', 'count', 2, 1, 'empty value; expected an integer from 1 to 10; ignoring the key']]],
  ['empty value of a required key is an error', 'name:', [['error', 'name', 1, 6, 'expected a string, found nothing (an empty value)']]],
  ['unknown key with dash near a known one', 'name: a\nold-thin: 1', [['warning', 'old_thin', 2, 1, 'unknown key "old-thin"; did you mean "old_thing"? ignoring it']]],
  ['prototype names are plain unknown keys', 'name: a\ntoString: 1\n__proto__: {x: 1}\nconstructor: 2', [
    ['warning', 'toString', 2, 1, 'unknown key "toString"; ignoring it'],
    ['warning', '__proto__', 3, 1, 'unknown key "__proto__"; ignoring it'],
    ['warning', 'constructor', 4, 1, 'unknown key "constructor"; ignoring it'],
  ]],
  ['a boolean spelt like a prototype member', 'name: a\non: constructor', [['error', 'on', 2, 5, 'expected true or false, found the string "constructor"']]],
  ['alias to a valid node', 'name: &n a\nrenamed: *n', [['warning', 'renamed', 2, 1, 'renamed is deprecated; use name']]],
  ['merge from a non-mapping', 'x: &x 1\nname: a\nnested:\n  <<: [*x]', [['warning', 'x', 1, 1, 'unknown key "x"; ignoring it'], ['error', 'nested', 4, 8, 'expected an alias of a mapping after <<, found the number 1']]],
];

describe('walk against a schema', () => {
  test.each(rows)('%s', (_name, text, expected) => {
    const r = readYaml(spec, text);
    expect(r.problems.map((p) => [p.severity, p.path, p.line, p.column])).toEqual(expected.map((e) => e.slice(0, 4)));
    r.problems.forEach((p, i) => {
      const want = expected[i]![4] as string | RegExp;
      if (typeof want === 'string') expect(p.message).toContain(want);
      else expect(p.message).toMatch(want);
    });
    expect(r.value === undefined).toBe(expected.some((e) => e[0] === 'error'));
  });

  test('values: keys folded to _, octal and durations decoded, refine applied', () => {
    const schema = s.object(
      { a_b: s.integer(), perm: octalMode(), every: duration() },
      { refine: (v) => ({ sum: (v.a_b as number) + (v.perm as number) + (v.every as number) }) },
    );
    expect(readYaml(schema, 'a-b: 1\nperm: "0o10"\nevery: 1m30s').value).toEqual({ sum: 1 + 8 + 90_000 });
  });

  test('refine locates its problems at the key it names, or at the map', () => {
    const schema = s.object(
      { a: s.integer(), b: s.integer() },
      {
        refine: (v, ctx) => {
          if (ctx.given('a') && !ctx.given('b')) ctx.error('a', 'a needs b');
          ctx.warn(undefined, `path is ${JSON.stringify(ctx.path())}`);
          return v;
        },
      },
    );
    const r = readYaml(s.object({ top: schema }), 'top:\n  a: 1');
    expect(r.problems).toEqual([
      { severity: 'warning', path: 'top', line: 2, column: 3, message: 'path is "top"' },
      { severity: 'error', path: 'top.a', line: 2, column: 6, message: 'a needs b' },
    ]);
  });

  test('__proto__ in a free map is an own key, not a prototype', () => {
    const r = readYaml(s.object({ env: s.map(s.string({ coerce: 'silent' }), { normalizeKeys: false }) }), 'env:\n  __proto__: x\n  toString: y');
    const env = (r.value as { env: Record<string, unknown> }).env;
    expect(Object.getPrototypeOf(env)).toBe(Object.prototype);
    expect(Object.keys(env)).toEqual(['__proto__', 'toString']);
    expect(env.toString).toBe('y');
  });

  test('an empty document reads as the empty value', () => {
    expect(readYaml(spec, '# only a comment\n')).toEqual({ value: {}, problems: [] });
  });

  test('a document past maxNodes stops with one error', () => {
    const big: Schema = s.list(s.integer());
    const r = readYaml(big, `[${Array(50).fill(1).join(',')}]`, { maxNodes: 10 });
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]!.message).toContain('more than 10 nodes');
  });

  test('the size cap is configurable', () => {
    expect(readYaml(spec, 'name: abcdef', { maxBytes: 5 }).problems[0]!.message).toBe('the document is 12 bytes; expected at most 5; refusing to read it');
  });

  test('union: several scalar options, the first that reads wins', () => {
    const u = s.union([s.integer({ coerce: 'never' }), s.enum(['auto'])]);
    expect(readYaml(s.object({ x: u }), 'x: 5').value).toEqual({ x: 5 });
    expect(readYaml(s.object({ x: u }), 'x: auto').value).toEqual({ x: 'auto' });
    expect(readYaml(s.object({ x: u }), 'x: other').problems[0]!.message).toBe('expected an integer or auto, found the string "other"');
  });

  test('acceptSingle reads a scalar as a list of one, with a warning', () => {
    const r = readYaml(s.object({ x: s.list(s.string(), { acceptSingle: true }) }), 'x: a');
    expect(r.value).toEqual({ x: ['a'] });
    expect(r.problems[0]!.severity).toBe('warning');
  });
});

describe('near misses', () => {
  test.each([
    ['kitten', 'sitting', 3],
    ['fats', 'fast', 1],
    ['', 'abc', 3],
    ['same', 'same', 0],
    ['reboot_stratgy', 'reboot_strategy', 1],
  ])('editDistance(%s, %s) = %i', (a, b, d) => expect(editDistance(a, b)).toBe(d));

  test('the cap returns limit + 1 early', () => expect(editDistance('aaaaaaaa', 'bbbbbbbb', 2)).toBe(3));

  test.each([
    ['reboot-stratgy', ['reboot_strategy', 'group'], 'reboot_strategy'],
    ['Hostname', ['hostname'], 'hostname'],
    ['grp', ['group'], undefined],
    ['ssh_authorised_keys', ['ssh_authorized_keys', 'users'], 'ssh_authorized_keys'],
    ['etcd_lock', ['etcd-lock', 'reboot'], 'etcd-lock'],
    ['zzzzzz', ['hostname'], undefined],
  ])('nearMiss(%s)', (key, candidates, want) => expect(nearMiss(key, candidates)).toBe(want));
});

describe('durations', () => {
  test.each([
    ['90s', 90_000],
    ['1h30m', 5_400_000],
    ['500ms', 500],
    ['2d', 172_800_000],
    ['1.5h', 5_400_000],
    ['10min', 600_000],
    ['0', 0],
    ['', undefined],
    ['5', undefined],
    ['1x', undefined],
    ['h', undefined],
  ])('parseDurationMs(%j)', (t, ms) => expect(parseDurationMs(t)).toBe(ms));

  test.each([
    [0, '0s'],
    [90_000, '1m30s'],
    [86_400_000 + 1, '1d1ms'],
  ])('formatDuration(%i)', (ms, t) => expect(formatDuration(ms)).toBe(t));
});
