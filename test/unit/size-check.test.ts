// The size check (scripts/size-check.mjs): function spans on small synthetic sources, the
// reason line, the command on a made-up tree, and the real src/ against the offenders known
// today (issue 11: no file over 300 lines, no function over 80, or a reason at the top).
import { describe, expect, test } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkTree, functionSpans, lineCount, offenders, sizeReason } from '../../scripts/size-check.mjs';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const script = join(repo, 'scripts/size-check.mjs');
const spans = (src: string) => functionSpans(src).map((f) => `${f.name}@${f.line}+${f.lines}`);

describe('functionSpans', () => {
  test.each([
    ['a function declaration', 'function f(a: number) {\n  return a;\n}', ['f@1+3']],
    ['a generic async function with a return type', 'export async function f<T>(a: T): Promise<Map<string, T>> {\n  return new Map();\n}', ['f@1+3']],
    ['a return type that is an object type', 'function f(): { a: string } {\n  return { a: "" };\n}', ['f@1+3']],
    ['a return type with an object type inside', 'function f(): Promise<{ a: string }> | { b: 1 } {\n  return g();\n}', ['f@1+3']],
    ['a return type that is a function type', 'function f(): () => void {\n  return () => {};\n}', ['f@1+3', 'arrow@2+1']],
    ['an arrow bound to a name', 'const f = async (a: string): Promise<void> => {\n  await a;\n};', ['f@1+3']],
    ['a one-parameter arrow', 'const g = x => {\n  return x;\n};', ['g@1+3']],
    ['a callback arrow', 'setTimeout(() => {\n  go();\n}, 5);', ['arrow@1+3']],
    ['an arrow as a property', 'const o = { run: (a) => {\n  return a;\n} };', ['run@1+3']],
    ['class methods, a constructor, accessors and a generic method', 'class A extends B {\n  constructor() {\n    super();\n  }\n  get x() {\n    return 1;\n  }\n  private m<T>(a: T): T {\n    return a;\n  }\n}', ['constructor@2+3', 'x@5+3', 'm@8+3']],
    ['methods of an object literal', 'const c = {\n  name: "x",\n  async run(ctx) {\n    return 0;\n  },\n};', ['run@3+3']],
    ['a function expression', 'const f = function (a) {\n  return a;\n};', ['f@1+3']],
    ['a parameter with an object type', 'function f(o: { a: number }, p = {}) {\n  return o;\n}', ['f@1+3']],
    ['control blocks are not functions', 'if (a) {\n  b();\n} else {\n  c();\n}\nfor (const x of y) {\n}\nwhile (z) {}\nswitch (k) {\n  case 1: {\n  }\n}\ntry {\n} catch (e) {\n} finally {\n}\nfor await (const x of y) {}', []],
    ['declarations and literals are not functions', 'interface I {\n  a(): void;\n}\ntype T = { a: number };\nenum E { A }\nconst o = { a: { b: 1 } };\nf({ a: 1 }, [{ b: 2 }]);\nreturn { x };', []],
    ['braces in strings, templates, comments and regular expressions do not count', 'function f() {\n  const s = "{";\n  const t = `${"}"} {`;\n  // }\n  const r = /\\{/;\n  return s;\n}', ['f@1+7']],
    ['a nested function counts on its own', 'function outer() {\n  const inner = () => {\n    x();\n  };\n}', ['outer@1+5', 'inner@2+3']],
  ] as const)('%s', (_name, src, want) => {
    expect(spans(src)).toEqual(want);
  });

  test('a function starts on the line of its name, not of its brace', () => {
    expect(spans('function f(\n  a: number,\n  b: number,\n): number {\n  return a + b;\n}')).toEqual(['f@1+6']);
  });
});

describe('sizeReason and lineCount', () => {
  test.each([
    ['// size: one table of every key, split by nothing but the alphabet\nimport x;', 'one table of every key, split by nothing but the alphabet'],
    ['/**\n * The walk.\n * size: the schema walk keeps its node kinds together\n */', 'the schema walk keeps its node kinds together'],
    ['/* size: generated */', 'generated'],
    ['// sizes: not the word\n', undefined],
    ['// size:\n', undefined],
    [`${'\n'.repeat(20)}// size: too far down`, undefined],
  ])('%j', (src, want) => {
    expect(sizeReason(src)).toBe(want);
  });

  test.each([
    ['', 0],
    ['a', 1],
    ['a\n', 1],
    ['a\nb', 2],
    ['a\n\n', 2],
  ])('%j has %i lines', (src, want) => {
    expect(lineCount(src)).toBe(want);
  });
});

describe('the command', () => {
  const tree = (files: Record<string, string>) => {
    const dir = mkdtempSync(join(tmpdir(), 'keel-size-check-'));
    for (const [name, body] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, 'src', name)), { recursive: true });
      writeFileSync(join(dir, 'src', name), body);
    }
    return dir;
  };
  const run = (args: string[]) => spawnSync('node', [script, ...args], { encoding: 'utf8' });
  const longFunction = `export function big() {\n${'  step();\n'.repeat(85)}}\n`;

  test('exits 1 naming a long file and a long function; a reason exempts a file; --json gives the same as data', () => {
    const dir = tree({
      'a/long.ts': 'export const x = 1;\n'.repeat(301),
      'a/fn.ts': longFunction,
      'b/exempt.ts': `// size: a reason\n${'export const y = 1;\n'.repeat(300)}${longFunction}`,
      'b/short.ts': 'export function s() {\n  return 1;\n}\n',
    });
    try {
      const human = run(['--src', join(dir, 'src')]);
      expect(human.status).toBe(1);
      expect(human.stdout.split('\n')).toEqual([
        'src/a/long.ts: 301 lines (over 300)',
        'src/a/fn.ts:1: function big: 87 lines (over 80)',
        'exempt: src/b/exempt.ts: 388 lines (size: a reason)',
        'exempt: src/b/exempt.ts:302: function big: 87 lines (size: a reason)',
        "2 offender(s): split them, or give the file a one-line '// size: <reason>' near its top",
        '',
      ]);
      const machine = run(['--json', '--src', join(dir, 'src')]);
      expect(machine.status).toBe(1);
      expect(JSON.parse(machine.stdout)).toEqual({
        files: [
          { file: 'src/a/long.ts', lines: 301 },
          { file: 'src/b/exempt.ts', lines: 388, reason: 'a reason' },
        ],
        functions: [
          { file: 'src/a/fn.ts', name: 'big', line: 1, lines: 87 },
          { file: 'src/b/exempt.ts', name: 'big', line: 302, lines: 87, reason: 'a reason' },
        ],
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('exits 0 without an offender and 2 on an unknown argument', () => {
    const dir = tree({ 'a/ok.ts': 'export function s() {\n  return 1;\n}\n' });
    try {
      const ok = run(['--src', join(dir, 'src')]);
      expect(ok.status).toBe(0);
      expect(ok.stdout).toContain('no file or function over its limit without a reason');
      const bad = run(['--frobnicate']);
      expect(bad.status).toBe(2);
      expect(bad.stderr).toContain("unknown argument '--frobnicate'");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

test('src/ has no file over 300 lines and no function over 80 without a reason', () => {
  // Issue 11 emptied the list of offenders. A new one fails here: split it, or give its
  // file a one-line `// size: <reason>` near the top. `node scripts/size-check.mjs` prints
  // the offenders with line numbers.
  const bad = offenders(checkTree(join(repo, 'src')));
  expect([...bad.files.map((f) => f.file), ...bad.functions.map((f) => `${f.file}:${f.line}: ${f.name}`)]).toEqual([]);
});
