// The parser's limits on hostile YAML (issue 9, defects 2, 4, 11): aliases resolved once with a
// total node budget, an explicit depth limit checked before the composer recurses, undefined
// aliases named as such, and no output from the yaml library.
import { Alias } from 'yaml';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { parseYaml, readYaml, s } from '../../../src/schema/index.js';

afterEach(() => vi.restoreAllMocks());

/** 100 anchors each used 99 times: 10,000 honest aliases (a valid config in the issue). */
function manyAliases(anchors = 100, uses = 99): string {
  const lines = ['defs:'];
  for (let i = 0; i < anchors; i++) lines.push(`  - &a${i} value${i}`);
  lines.push('uses:');
  for (let u = 0; u < uses; u++) for (let i = 0; i < anchors; i++) lines.push(`  - *a${i}`);
  return lines.join('\n');
}
const listsSchema = s.object({ defs: s.list(s.string()), uses: s.list(s.string()) });

describe('aliases', () => {
  test('10,000 aliases are resolved from one index: the yaml package never searches the document per alias', () => {
    // Alias.resolve walks the whole document on every call: calling it per alias was the quadratic cost.
    const resolve = vi.spyOn(Alias.prototype, 'resolve');
    const r = readYaml<{ uses: string[] }>(listsSchema, manyAliases());
    expect(r.problems).toEqual([]);
    expect(r.value!.uses).toHaveLength(9900);
    expect(r.value!.uses[9899]).toBe('value99');
    expect(resolve).not.toHaveBeenCalled();
  });

  test('the budget counts every expansion in the document, not per anchor', () => {
    // Each anchor is used 99 times (under a per-anchor count of 100), but together they pass the budget.
    const r = parseYaml(manyAliases(), { maxNodes: 5000 });
    expect(r.doc).toBeUndefined();
    expect(r.problems).toEqual([{ severity: 'error', path: '', line: 4998, column: 5, message: 'aliases expand the document to more than 5000 nodes (an alias bomb?); expected at most 5000; refusing to read it' }]);
  });

  test('a billion-laughs bomb is refused at the alias that crosses the budget', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (const [i, n] of [...'bcdefghij'].entries()) bomb.push(`${n}: &${n} [${Array(10).fill(`*${'abcdefghij'[i]}`).join(', ')}]`);
    const r = parseYaml(bomb.join('\n'));
    expect(r.problems).toEqual([{ severity: 'error', path: '', line: 6, column: 8, message: 'aliases expand the document to more than 200000 nodes (an alias bomb?); expected at most 200000; refusing to read it' }]);
  });

  test('an undefined alias is named as such, at the alias', () => {
    expect(parseYaml('a: 1\nb: *nope\n').problems).toEqual([
      { severity: 'error', path: '', line: 2, column: 4, message: 'undefined alias *nope; expected an anchor &nope defined before it; refusing to read the document' },
    ]);
  });

  test('an alias used before its anchor is undefined too (YAML: the anchor must come first)', () => {
    expect(parseYaml('b: *x\na: &x 1\n').problems[0]).toMatchObject({ line: 1, column: 4, message: expect.stringMatching(/^undefined alias \*x;/) });
  });

  test('an alias inside the node it names is refused, not followed forever', () => {
    expect(parseYaml('a: &a [1, *a]\n').problems).toEqual([
      { severity: 'error', path: '', line: 1, column: 11, message: 'alias *a is inside the node it names (a recursive alias); expected an alias of a finished node; refusing to read the document' },
    ]);
  });

  test('an alias names the last anchor of that name before it', () => {
    const parsed = parseYaml('- &x 1\n- *x\n- &x 2\n- *x\n');
    const index = parsed.aliases!;
    const items = (parsed.doc!.contents as unknown as { items: Alias[] }).items;
    expect(index.target(items[1]!)).toBe(items[0]);
    expect(index.target(items[3]!)).toBe(items[2]);
    expect(readYaml(s.list(s.integer()), '- &x 1\n- *x\n- &x 2\n- *x\n').value).toEqual([1, 1, 2, 2]);
  });

  test('merge keys follow aliases through the index', () => {
    const r = readYaml(s.object({ base: s.any(), x: s.object({ a: s.integer(), b: s.integer() }) }), 'base: &b {a: 1, b: 2}\nx:\n  <<: *b\n  b: 3\n');
    expect(r.value).toEqual({ base: { a: 1, b: 2 }, x: { a: 1, b: 3 } });
  });
});

describe('nesting depth', () => {
  const deep = (n: number) => ({
    flow: `x: ${'['.repeat(n)}${']'.repeat(n)}`,
    flowMap: `x: ${'{a: '.repeat(n)}1${'}'.repeat(n)}`,
    block: Array.from({ length: Math.min(n, 1200) }, (_, i) => `${' '.repeat(i)}a:`).join('\n') + ' 1',
    dashes: `x:\n  ${'- '.repeat(n)}z`,
  });

  test.each(Object.entries(deep(5000)))('%s nesting 5000 deep (block: 1200): one located error', (_shape, text) => {
    const r = parseYaml(text);
    expect(r.doc).toBeUndefined();
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]).toMatchObject({ severity: 'error', message: 'collections are nested deeper than 100 levels; expected at most 100; refusing to read the document' });
    expect(r.problems[0]!.line).toBeGreaterThan(0);
    expect(r.problems[0]!.column).toBeGreaterThan(0);
  });

  test.each(Object.entries(deep(90)))('%s nesting 90 deep is read', (_shape, text) => {
    expect(parseYaml(text).problems).toEqual([]);
  });

  test('the answer does not depend on how much stack the caller has left', () => {
    const text = deep(950).flow;
    const atTop = parseYaml(text).problems;
    const nested = (n: number): unknown => (n === 0 ? parseYaml(text).problems : nested(n - 1));
    expect(nested(8000)).toEqual(atTop);
    expect(atTop).toEqual([{ severity: 'error', path: '', line: 1, column: 105, message: 'collections are nested deeper than 100 levels; expected at most 100; refusing to read the document' }]);
  });

  test('aliases cannot stack shallow anchors into a deep document', () => {
    const lines = ['a0: &a0 [[[[[[[[[[1]]]]]]]]]]'];
    for (let i = 1; i < 12; i++) lines.push(`a${i}: &a${i} [[[[[[[[[[*a${i - 1}]]]]]]]]]]`);
    const r = parseYaml(lines.join('\n'));
    expect(r.problems).toEqual([
      { severity: 'error', path: '', line: 10, column: 19, message: 'alias *a8 nests collections deeper than 100 levels once expanded; expected at most 100; refusing to read the document' },
    ]);
  });
});

describe('the yaml library stays quiet', () => {
  test('a collection as a key is a located problem, never a warning on stderr', () => {
    const warn = vi.spyOn(process, 'emitWarning');
    const error = vi.spyOn(console, 'warn');
    const r = readYaml(s.object({ x: s.map(s.integer()) }), 'x:\n  ? [a, b]\n  : 1\ny: &y {a: 1}\nz: *y\n');
    expect(r.problems).toEqual([{ severity: 'error', path: 'x', line: 2, column: 5, message: 'expected a plain key, found a list' }, expect.objectContaining({ path: 'y' }), expect.objectContaining({ path: 'z' })]);
    expect(warn).not.toHaveBeenCalled();
    expect(error).not.toHaveBeenCalled();
  });

  test('s.any() reads aliases and collection keys without the library', () => {
    const r = readYaml<{ x: unknown }>(s.object({ x: s.any(), y: s.any() }), 'y: &y {k: [1, 2]}\nx:\n  a: *y\n  ? [b]\n  : 2\n');
    expect(r.value!.x).toEqual({ a: { k: [1, 2] }, '["b"]': 2 });
  });
});

describe('token and problem budgets', () => {
  test('a document of more than 80,000 tokens is refused where the budget ends, before it is composed', () => {
    const r = parseYaml(Array.from({ length: 30_000 }, (_, i) => `k${i}: ${i}`).join('\n'));
    expect(r.doc).toBeUndefined();
    expect(r.problems).toEqual([{ severity: 'error', path: '', line: 11_429, column: 8, message: 'the document has more than 80000 yaml tokens; expected at most 80000 (a config, not a data set); refusing to read it' }]);
  });

  test('past 1,000 problems the rest are counted in one last problem, at the first not listed', () => {
    const r = readYaml(s.object({ name: s.string() }), Array.from({ length: 3000 }, (_, i) => `k${i}: ${i}`).join('\n'));
    expect(r.problems).toHaveLength(1001);
    expect(r.problems[999]).toMatchObject({ line: 1000, message: 'unknown key "k999"; ignoring it' });
    expect(r.problems[1000]).toEqual({ severity: 'warning', path: 'k1000', line: 1001, column: 1, message: '2000 more problems (0 errors) from here on, not listed; expected at most 1000; fix the ones above first' });
  });
});

describe('broken text', () => {
  test('text after a flow document: 100 stray tokens are reported, then reading stops there', () => {
    const r = parseYaml(`{a: 1}\n${'x: y\n'.repeat(20_000)}`);
    expect(r.doc).toBeUndefined();
    expect(r.problems).toHaveLength(102);
    expect(r.problems[0]).toEqual({ severity: 'error', path: '', line: 2, column: 1, message: 'yaml syntax: unexpected scalar at node end' });
    expect(r.problems[101]).toEqual({ severity: 'error', path: '', line: 35, column: 4, message: 'more than 100 yaml tokens out of place; expected yaml; reading stopped here' });
  });

  test('a document of many syntax errors lists 100 and counts the rest, located', () => {
    const r = parseYaml(`a: [${'x: y: z, '.repeat(300)}]`);
    expect(r.problems).toHaveLength(101);
    expect(r.problems[100]).toEqual({ severity: 'error', path: '', line: 1, column: 908, message: '200 more yaml problems from here on, not listed; fix the ones above first' });
  });
});
