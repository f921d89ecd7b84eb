#!/usr/bin/env node
// The folder-level import graph of src/ and its cycles (issue 11: no folder imports another
// in a loop). Every src/**/*.ts file's relative imports (static, `export … from`, type-only,
// and dynamic `import(…)`) are folded to parts: src/<folder>, with the files at src/ as
// "root" and src/cloudconfig/datasources as its own part. Exit 0 with no cycle, 1 with one,
// 2 on a usage error. The scanner is a small tokenizer rather than a TypeScript parser:
// typescript 7 ships no JS API, and imports need only strings, names and punctuation.
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, posix, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Folders below src/<folder>/ that are parts of their own. */
export const subparts = ['cloudconfig/datasources'];

const regexAfterWords = new Set(['return', 'typeof', 'instanceof', 'in', 'of', 'new', 'delete', 'void', 'throw', 'case', 'do', 'else', 'yield', 'await']);

/** Skips a quoted string starting at `i`; returns its value and the index after it. */
function readQuoted(src, i) {
  const quote = src[i];
  let value = '';
  let j = i + 1;
  while (j < src.length && src[j] !== quote && src[j] !== '\n') {
    if (src[j] === '\\') j += 1;
    value += src[j];
    j += 1;
  }
  return { value, end: j + 1 };
}

/** Skips a regular expression literal starting at `i` (the opening slash). */
function skipRegex(src, i) {
  let j = i + 1;
  let inClass = false;
  while (j < src.length && src[j] !== '\n') {
    const c = src[j];
    if (c === '\\') j += 1;
    else if (c === '[') inClass = true;
    else if (c === ']') inClass = false;
    else if (c === '/' && !inClass) break;
    j += 1;
  }
  j += 1;
  while (/[a-z]/i.test(src[j] ?? '')) j += 1;
  return j;
}

/**
 * Tokens of a TypeScript source that matter for imports: names, strings and punctuation,
 * each with its 1-based line. Comments, template text and regular expressions are skipped,
 * so an import written inside them is not counted. Code inside `${…}` is tokenized.
 */
export function tokenize(src) {
  const tokens = [];
  const braces = []; // per open `{`: true when it opened a template's `${`
  let line = 1;
  let i = 0;
  const countLines = (from, to) => {
    for (let k = from; k < to && k < src.length; k += 1) if (src[k] === '\n') line += 1;
  };
  // Template text from `i` (just after a backtick or a closing `}`) to the end or to `${`.
  const template = () => {
    let j = i;
    while (j < src.length && src[j] !== '`' && !(src[j] === '$' && src[j + 1] === '{')) j += src[j] === '\\' ? 2 : 1;
    countLines(i, j);
    if (src[j] === '`') i = j + 1;
    else { braces.push(true); i = j + 2; }
    tokens.push({ type: 'template', value: '', line });
  };
  while (i < src.length) {
    const c = src[i];
    const prev = tokens[tokens.length - 1];
    if (c === '\n') { line += 1; i += 1; }
    else if (/\s/.test(c)) i += 1;
    else if (c === '/' && src[i + 1] === '/') { while (i < src.length && src[i] !== '\n') i += 1; }
    else if (c === '/' && src[i + 1] === '*') { const end = src.indexOf('*/', i + 2); const stop = end < 0 ? src.length : end + 2; countLines(i, stop); i = stop; }
    else if (c === '\'' || c === '"') { const s = readQuoted(src, i); tokens.push({ type: 'string', value: s.value, line }); i = s.end; }
    else if (c === '`') { i += 1; template(); }
    else if (c === '/' && (!prev || (prev.type === 'punct' && !')]'.includes(prev.value)) || (prev.type === 'name' && regexAfterWords.has(prev.value)))) {
      i = skipRegex(src, i);
      tokens.push({ type: 'regex', value: '', line });
    }
    else if (/[A-Za-z_$]/.test(c)) { let j = i; while (/[\w$]/.test(src[j] ?? '')) j += 1; tokens.push({ type: 'name', value: src.slice(i, j), line }); i = j; }
    else if (/[0-9]/.test(c)) { let j = i; while (/[\w.]/.test(src[j] ?? '')) j += 1; tokens.push({ type: 'number', value: src.slice(i, j), line }); i = j; }
    else if (c === '}' && braces.length && braces[braces.length - 1]) { braces.pop(); i += 1; template(); }
    else {
      if (c === '{') braces.push(false);
      if (c === '}') braces.pop();
      tokens.push({ type: 'punct', value: c, line });
      i += 1;
    }
  }
  return tokens;
}

const clauseTokens = new Set(['{', '}', ',', '*']);

/**
 * The module specifiers a source imports: `{ specifier, line, kind }`, kind being 'static'
 * (import, `export … from`, side-effect import), 'type' (`import type`/`export type`) or
 * 'dynamic' (`import(…)`, also in type positions). `import.meta` is not an import.
 */
export function scanImports(src) {
  const tokens = tokenize(src);
  const found = [];
  tokens.forEach((t, k) => {
    if (t.type !== 'name' || (t.value !== 'import' && t.value !== 'export')) return;
    const before = tokens[k - 1];
    if (before && before.type === 'punct' && before.value === '.') return; // a property named import
    const next = tokens[k + 1];
    if (!next) return;
    if (t.value === 'import' && next.value === '(' && tokens[k + 2]?.type === 'string') {
      found.push({ specifier: tokens[k + 2].value, line: t.line, kind: 'dynamic' });
      return;
    }
    if (t.value === 'import' && next.type === 'string') {
      found.push({ specifier: next.value, line: t.line, kind: 'static' });
      return;
    }
    const typeOnly = next.type === 'name' && next.value === 'type';
    for (let j = k + 1; j < tokens.length; j += 1) {
      const u = tokens[j];
      if (u.type === 'name' && u.value === 'from' && tokens[j + 1]?.type === 'string') {
        found.push({ specifier: tokens[j + 1].value, line: t.line, kind: typeOnly ? 'type' : 'static' });
        return;
      }
      if (u.type !== 'name' && !(u.type === 'punct' && clauseTokens.has(u.value))) return;
    }
  });
  return found;
}

/** The part a file belongs to, from its path relative to src/ (forward slashes). */
export function partOf(relPath) {
  const folder = posix.dirname(relPath);
  if (folder === '.') return 'root';
  const sub = subparts.find((s) => folder === s || folder.startsWith(`${s}/`));
  return sub ?? folder.split('/')[0];
}

/** The src-relative path a relative specifier names, or undefined for a package. */
export function resolveSpecifier(fromRel, specifier, files) {
  if (!specifier.startsWith('.')) return undefined;
  const base = posix.normalize(posix.join(posix.dirname(fromRel), specifier));
  const candidates = [base.replace(/\.js$/, '.ts'), base.replace(/\.js$/, '.d.ts'), `${base}.ts`, `${base}/index.ts`, base];
  return candidates.find((c) => files.has(c)) ?? base;
}

/**
 * Cycles of a directed graph `{ node: [targets…] }`: every elementary cycle once, as the
 * list of its nodes starting at its least node (`['a', 'b']` is a → b → a), sorted.
 * A depth-first search from each node that only visits greater nodes finds each cycle
 * exactly once; fine for a graph of a dozen parts.
 */
export function findCycles(graph) {
  const nodes = [...new Set([...Object.keys(graph), ...Object.values(graph).flat()])].sort();
  const cycles = [];
  for (const start of nodes) {
    const path = [start];
    const onPath = new Set(path);
    const walk = (node) => {
      for (const next of [...new Set(graph[node] ?? [])].sort()) {
        if (next === start) cycles.push([...path]);
        else if (next > start && !onPath.has(next)) {
          path.push(next); onPath.add(next);
          walk(next);
          path.pop(); onPath.delete(next);
        }
      }
    };
    walk(start);
  }
  return cycles.sort((a, b) => a.join(' ').localeCompare(b.join(' ')));
}

function listTs(dir) {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => relative(dir, join(e.parentPath ?? e.path, e.name)).split(sep).join('/'))
    .sort();
}

/**
 * The folder graph of a source tree: `parts`, `edges` (from, to and the imports that make
 * the arrow, each `{ file, line, specifier, kind }` with file relative to the tree's parent)
 * and `graph` (`{ part: [parts it imports] }`). Imports inside one part are not arrows.
 */
export function readGraph(srcDir) {
  const files = new Set(listTs(srcDir));
  const label = posix.basename(srcDir.split(sep).join('/'));
  const edges = new Map();
  const parts = new Set();
  for (const rel of files) {
    const from = partOf(rel);
    parts.add(from);
    for (const imp of scanImports(readFileSync(join(srcDir, rel), 'utf8'))) {
      const target = resolveSpecifier(rel, imp.specifier, files);
      if (target === undefined) continue;
      const to = target.startsWith('..') ? 'outside' : partOf(target);
      if (to === from) continue;
      const key = `${from}\0${to}`;
      if (!edges.has(key)) edges.set(key, { from, to, imports: [] });
      edges.get(key).imports.push({ file: `${label}/${rel}`, line: imp.line, specifier: imp.specifier, kind: imp.kind });
    }
  }
  const edgeList = [...edges.values()].sort((a, b) => `${a.from} ${a.to}`.localeCompare(`${b.from} ${b.to}`));
  const graph = {};
  for (const p of [...parts].sort()) graph[p] = [];
  for (const e of edgeList) graph[e.from].push(e.to);
  return { parts: [...parts].sort(), edges: edgeList, graph };
}

/** Each cycle with the imports that make its arrows, for the refactor to know where to cut. */
export function explainCycles(result) {
  return findCycles(result.graph).map((nodes) => ({
    parts: nodes,
    edges: nodes.map((from, k) => result.edges.find((e) => e.from === from && e.to === nodes[(k + 1) % nodes.length])),
  }));
}

/** The human report: one line per part with its arrows, then every cycle and its imports. */
export function formatReport(result, cycles) {
  const lines = ['folder graph of src/ (part -> parts it imports):'];
  for (const p of result.parts) lines.push(`  ${p} -> ${result.graph[p].join(', ') || '(nothing)'}`);
  if (!cycles.length) return [...lines, 'no folder-level cycle'].join('\n');
  lines.push(`${cycles.length} folder-level cycle(s):`);
  for (const c of cycles) {
    lines.push(`  ${[...c.parts, c.parts[0]].join(' -> ')}`);
    for (const e of c.edges) {
      lines.push(`    ${e.from} -> ${e.to}:`);
      for (const i of e.imports) lines.push(`      ${i.file}:${i.line}: ${i.kind} '${i.specifier}'`);
    }
  }
  return lines.join('\n');
}

const usage = `usage: node scripts/import-graph.mjs [--json] [--src DIR]
Prints the folder-level import graph of src/ and its cycles; exits 1 if there is a cycle.
  --json      print { parts, edges, cycles } as JSON
  --src DIR   the source tree to read (default: src/ of this repository)
  --help      show this help`;

function main(argv) {
  let json = false;
  let srcDir = fileURLToPath(new URL('../src', import.meta.url));
  for (let k = 0; k < argv.length; k += 1) {
    if (argv[k] === '--help' || argv[k] === '-h') { process.stdout.write(`${usage}\n`); return 0; }
    else if (argv[k] === '--json') json = true;
    else if (argv[k] === '--src' && argv[k + 1]) srcDir = argv[++k];
    else { process.stderr.write(`import-graph: unknown argument '${argv[k]}', expected --json, --src DIR or --help\n${usage}\n`); return 2; }
  }
  const result = readGraph(srcDir);
  const cycles = explainCycles(result);
  if (json) process.stdout.write(`${JSON.stringify({ parts: result.parts, edges: result.edges, cycles }, null, 2)}\n`);
  else process.stdout.write(`${formatReport(result, cycles)}\n`);
  return cycles.length ? 1 : 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) process.exitCode = main(process.argv.slice(2));
