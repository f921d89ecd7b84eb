#!/usr/bin/env node
// Sizes in src/ (issue 11, STYLE.md): no file over 300 lines and no function over 80,
// unless the file says why near its top with one line `// size: <reason>` (or ` * size:`
// inside its opening comment). Prints the offenders and the exempted files; exit 0 with no
// offender, 1 with one, 2 on a usage error. Functions are found on the tokens of
// scripts/import-graph.mjs (typescript 7 ships no JS API): a `{` opens a function body
// when it follows `=>`, or `)` (with an optional return type) whose `(` follows a name
// that is not a control keyword (`if`, `for`, `while`, `switch`, `catch`).
import { readFileSync, readdirSync } from 'node:fs';
import { join, posix, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tokenize } from './import-graph.mjs';

export const maxFileLines = 300;
export const maxFunctionLines = 80;

/** Names before `(` that make a block, not a function. */
const controlWords = new Set(['if', 'for', 'while', 'switch', 'catch', 'with', 'await', 'return', 'typeof', 'in', 'of']);
/** Names that end a backwards search for a return type: the `{` belongs to a statement. */
const statementWords = new Set(['class', 'interface', 'type', 'enum', 'namespace', 'module', 'export', 'default', 'const', 'let', 'var', 'return', 'extends', 'implements', 'new', 'else', 'try', 'finally', 'do', 'case', 'static', 'throw', 'yield', 'import', 'from']);
const openers = new Set(['(', '[', '{']);
const closers = new Set([')', ']', '}']);

const isPunct = (t, value) => t !== undefined && t.type === 'punct' && t.value === value;

/** Index of the opener matching the closer at `k`, searching backwards (-1 if none). */
function openerBefore(tokens, k) {
  let depth = 0;
  for (let i = k; i >= 0; i -= 1) {
    const t = tokens[i];
    if (t.type !== 'punct') continue;
    if (closers.has(t.value)) depth += 1;
    else if (openers.has(t.value) && --depth === 0) return i;
  }
  return -1;
}

/** For a `)` at `k`: the index of the name its `(` follows when that makes a function, else -1. */
function functionNameBefore(tokens, k) {
  const open = openerBefore(tokens, k);
  if (open < 0 || tokens[open].value !== '(') return -1;
  let j = open - 1;
  if (isPunct(tokens[j], '>')) j = genericStart(tokens, j) - 1; // method<T>(…)
  const t = tokens[j];
  if (t === undefined || t.type !== 'name' || controlWords.has(t.value)) return -1;
  return j;
}

/** For a `>` closing a type parameter list at `k`: the index of its `<`. */
function genericStart(tokens, k) {
  let depth = 0;
  for (let i = k; i >= 0; i -= 1) {
    if (isPunct(tokens[i], '>')) depth += 1;
    else if (isPunct(tokens[i], '<') && --depth === 0) return i;
  }
  return 0;
}

/**
 * Whether the `{` at `k` opens a function body: `{ start, name }` (start: the token whose
 * line the function starts on) or undefined.
 */
function functionAt(tokens, k) {
  const prev = tokens[k - 1];
  if (isPunct(prev, '>') && isPunct(tokens[k - 2], '=')) return arrowAt(tokens, k - 2);
  if (isPunct(prev, ')')) {
    const j = functionNameBefore(tokens, k - 1);
    return j < 0 ? undefined : { start: j, name: tokens[j].value === 'function' ? nameOfAnonymous(tokens, j) : tokens[j].value };
  }
  // Otherwise only a return type's last token can come before a body: a name, `>`, `]`, `}` or a literal.
  const endsType = prev !== undefined && (prev.type !== 'punct' || ['>', ']', '}'].includes(prev.value));
  const close = endsType ? returnTypeStart(tokens, k - 1) : -1;
  const j = close < 0 ? -1 : functionNameBefore(tokens, close);
  return j < 0 ? undefined : { start: j, name: tokens[j].value === 'function' ? nameOfAnonymous(tokens, j) : tokens[j].value };
}

/**
 * For a return type ending at `k` (`): Type {` or `): Type =>`): the index of the `)` before
 * its `:`, or -1 when the tokens before `k` are not a return type.
 */
function returnTypeStart(tokens, k) {
  let depth = 0;
  for (let i = k; i >= 0 && k - i < 80; i -= 1) {
    const t = tokens[i];
    if (t.type === 'name' && depth === 0 && statementWords.has(t.value)) return -1;
    if (t.type !== 'punct') continue;
    if (closers.has(t.value)) depth += 1;
    else if (openers.has(t.value)) {
      if (depth === 0) return -1;
      depth -= 1;
    } else if (depth > 0) continue;
    else if (t.value === ';') return -1;
    else if (t.value === '=' && !isPunct(tokens[i + 1], '>')) return -1;
    else if (t.value === ':') return isPunct(tokens[i - 1], ')') ? i - 1 : -1;
  }
  return -1;
}

/** An arrow whose `=>` starts at `eq`: where its parameters start, and the name it is bound to. */
function arrowAt(tokens, eq) {
  let start = eq - 1;
  if (!isPunct(tokens[start], ')') && tokens[start]?.type !== 'name') start = returnTypeStart(tokens, start);
  if (start < 0) return { start: eq, name: 'arrow' };
  if (isPunct(tokens[start], ')')) start = openerBefore(tokens, start);
  let j = start - 1;
  if (tokens[j]?.value === 'async') j -= 1;
  const bound = (isPunct(tokens[j], '=') || isPunct(tokens[j], ':')) && tokens[j - 1]?.type === 'name';
  return { start: Math.max(start, 0), name: bound ? tokens[j - 1].value : 'arrow' };
}

/** `const f = function (…)` or `function name(…)` seen from the `function` keyword. */
function nameOfAnonymous(tokens, j) {
  const next = tokens[j + 1];
  if (next?.type === 'name') return next.value;
  return isPunct(tokens[j - 1], '=') && tokens[j - 2]?.type === 'name' ? tokens[j - 2].value : 'function';
}

/**
 * The functions of a source with a body in braces: `{ name, line, lines }`, `lines` counted
 * from the line the function starts on to its closing brace. Nested functions are listed
 * too (an inner function's lines also count for the outer one).
 */
export function functionSpans(src) {
  const tokens = tokenize(src);
  const close = new Map();
  const stack = [];
  tokens.forEach((t, k) => {
    if (isPunct(t, '{')) stack.push(k);
    else if (isPunct(t, '}') && stack.length) close.set(stack.pop(), k);
  });
  const spans = [];
  for (const [open, end] of close) {
    const fn = functionAt(tokens, open);
    if (!fn) continue;
    const line = tokens[fn.start].line;
    spans.push({ name: fn.name, line, lines: tokens[end].line - line + 1 });
  }
  return spans.sort((a, b) => a.line - b.line);
}

/** Lines in a source, as `wc -l` would count them for a file ending in a newline. */
export function lineCount(src) {
  if (src === '') return 0;
  return src.split('\n').length - (src.endsWith('\n') ? 1 : 0);
}

/** The reason a file gives for its size: a `size:` line in its first 15 lines, or undefined. */
export function sizeReason(src) {
  for (const line of src.split('\n', 15)) {
    const m = /^\s*(?:\/\/|\/\*+|\*)\s*size:\s*(\S.*?)\s*(?:\*\/)?$/.exec(line);
    if (m) return m[1];
  }
  return undefined;
}

function listTs(dir) {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts'))
    .map((e) => relative(dir, join(e.parentPath ?? e.path, e.name)).split(sep).join('/'))
    .sort();
}

/**
 * Every file of a tree over the file limit and every function over the function limit:
 * `{ files: [{ file, lines, reason? }], functions: [{ file, name, line, lines, reason? }] }`
 * with files named relative to the tree's parent (`src/…`). `reason` is set on an
 * exempted file's entries; the rest are offenders.
 */
export function checkTree(srcDir, limits = { file: maxFileLines, fn: maxFunctionLines }) {
  const label = posix.basename(srcDir.split(sep).join('/'));
  const files = [];
  const functions = [];
  for (const rel of listTs(srcDir)) {
    const src = readFileSync(join(srcDir, rel), 'utf8');
    const file = `${label}/${rel}`;
    const reason = sizeReason(src);
    const extra = reason === undefined ? {} : { reason };
    const lines = lineCount(src);
    if (lines > limits.file) files.push({ file, lines, ...extra });
    for (const f of functionSpans(src)) if (f.lines > limits.fn) functions.push({ file, ...f, ...extra });
  }
  return { files, functions };
}

/** The offenders: entries without a reason. */
export function offenders(result) {
  return { files: result.files.filter((f) => f.reason === undefined), functions: result.functions.filter((f) => f.reason === undefined) };
}

/** The human report. */
export function formatReport(result) {
  const bad = offenders(result);
  const lines = [];
  for (const f of bad.files) lines.push(`${f.file}: ${f.lines} lines (over ${maxFileLines})`);
  for (const f of bad.functions) lines.push(`${f.file}:${f.line}: function ${f.name}: ${f.lines} lines (over ${maxFunctionLines})`);
  for (const f of result.files.filter((x) => x.reason !== undefined)) lines.push(`exempt: ${f.file}: ${f.lines} lines (size: ${f.reason})`);
  for (const f of result.functions.filter((x) => x.reason !== undefined)) lines.push(`exempt: ${f.file}:${f.line}: function ${f.name}: ${f.lines} lines (size: ${f.reason})`);
  const count = bad.files.length + bad.functions.length;
  lines.push(count ? `${count} offender(s): split them, or give the file a one-line '// size: <reason>' near its top` : 'no file or function over its limit without a reason');
  return lines.join('\n');
}

const usage = `usage: node scripts/size-check.mjs [--json] [--src DIR]
Lists files over ${maxFileLines} lines and functions over ${maxFunctionLines} lines in src/; a file whose first
lines hold '// size: <reason>' is exempt and listed as such. Exits 1 if there is an offender.
  --json      print { files, functions } as JSON (exempt entries carry their reason)
  --src DIR   the source tree to read (default: src/ of this repository)
  --help      show this help`;

function main(argv) {
  let json = false;
  let srcDir = fileURLToPath(new URL('../src', import.meta.url));
  for (let k = 0; k < argv.length; k += 1) {
    if (argv[k] === '--help' || argv[k] === '-h') {
      process.stdout.write(`${usage}\n`);
      return 0;
    } else if (argv[k] === '--json') json = true;
    else if (argv[k] === '--src' && argv[k + 1]) srcDir = argv[++k];
    else {
      process.stderr.write(`size-check: unknown argument '${argv[k]}', expected --json, --src DIR or --help\n${usage}\n`);
      return 2;
    }
  }
  const result = checkTree(srcDir);
  process.stdout.write(json ? `${JSON.stringify(result, null, 2)}\n` : `${formatReport(result)}\n`);
  const bad = offenders(result);
  return bad.files.length + bad.functions.length > 0 ? 1 : 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) process.exitCode = main(process.argv.slice(2));
