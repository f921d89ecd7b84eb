#!/usr/bin/env node
// Where a bench process spent its CPU: reads a V8 .cpuprofile (node --cpu-prof) of a bundled
// bench driver, maps each function back to its source file through the bundle's source map
// (runBundled writes one), and prints self time by part (keel's src/ folders, the bench
// driver, each npm package, node itself, GC, idle) and the functions with the most self time.
// usage: node bench/lib/cpu-profile-summary.mjs PROFILE.cpuprofile [TOP=25]
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const base64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const digit = new Map([...base64].map((c, i) => [c, i]));

/** The source-map segments of each generated line: [column, source index, source line]. */
function decodeMappings(mappings) {
  const lines = [];
  let source = 0;
  let sourceLine = 0;
  let sourceColumn = 0;
  let name = 0;
  for (const line of mappings.split(';')) {
    const segments = [];
    let column = 0;
    for (const segment of line.split(',')) {
      if (!segment) continue;
      const values = [];
      let value = 0;
      let shift = 0;
      for (const c of segment) {
        const d = digit.get(c);
        value += (d & 31) << shift;
        if (d & 32) shift += 5;
        else {
          values.push(value & 1 ? -(value >>> 1) : value >>> 1);
          value = 0;
          shift = 0;
        }
      }
      column += values[0];
      if (values.length >= 4) {
        source += values[1];
        sourceLine += values[2];
        sourceColumn += values[3];
        if (values.length >= 5) name += values[4];
        segments.push([column, source, sourceLine]);
      }
    }
    lines.push(segments);
  }
  return lines;
}

/** Maps a generated (0-based line, column) to [source path, 1-based line], or undefined. */
function mapper(mapFile) {
  if (!existsSync(mapFile)) return () => undefined;
  const map = JSON.parse(readFileSync(mapFile, 'utf8'));
  const lines = decodeMappings(map.mappings);
  return (line, column) => {
    const segments = lines[line];
    if (!segments?.length) return undefined;
    let hit = segments[0];
    for (const s of segments) if (s[0] <= column) hit = s;
    return [map.sources[hit[1]].replace(/^(\.\.\/)+/, ''), hit[2] + 1];
  };
}

/** The part a source path belongs to. */
function partOf(path) {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  if (pkg) return `npm ${pkg[1]}`;
  const src = /^src\/([^/]+)/.exec(path);
  if (src) return `keel src/${src[1]}`;
  if (path.startsWith('bench/')) return 'bench driver';
  if (path.startsWith('test/')) return 'test harness';
  return path;
}

const [file, topArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: cpu-profile-summary.mjs PROFILE.cpuprofile [TOP]');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8'));
const maps = new Map();
const locate = (url, line, column) => {
  if (!url.startsWith('file://')) return undefined;
  const path = fileURLToPath(url);
  if (!maps.has(path)) maps.set(path, mapper(`${path}.map`));
  return maps.get(path)(line, column);
};

// Self time of each node: the sampling intervals that followed its samples.
const selfUs = new Map();
for (let i = 0; i < profile.samples.length; i++) selfUs.set(profile.samples[i], (selfUs.get(profile.samples[i]) ?? 0) + (profile.timeDeltas[i + 1] ?? 0));
const byPart = new Map();
const byFunction = new Map();
let total = 0;
for (const node of profile.nodes) {
  const us = selfUs.get(node.id) ?? 0;
  if (!us) continue;
  total += us;
  const { functionName, url, lineNumber, columnNumber } = node.callFrame;
  let part;
  let where;
  if (['(idle)', '(garbage collector)', '(program)'].includes(functionName)) part = where = functionName;
  else if (url.startsWith('node:') || url === '') part = 'node itself', (where = `${url || 'native'} ${functionName}`);
  else {
    const located = locate(url, lineNumber, columnNumber);
    part = located ? partOf(located[0]) : url;
    where = `${functionName || '(anonymous)'} ${located ? `${located[0]}:${located[1]}` : `${url}:${lineNumber + 1}`}`;
  }
  byPart.set(part, (byPart.get(part) ?? 0) + us);
  byFunction.set(where, (byFunction.get(where) ?? 0) + us);
}
const busy = total - (byPart.get('(idle)') ?? 0);
const row = (us) => `${(us / 1e6).toFixed(1).padStart(7)} s ${((us / busy) * 100).toFixed(1).padStart(5)} %`;
console.log(`${file}: ${(total / 1e6).toFixed(1)} s profiled, ${(busy / 1e6).toFixed(1)} s not idle (percentages of that)`);
for (const [part, us] of [...byPart].sort((a, b) => b[1] - a[1])) if (part !== '(idle)') console.log(`${row(us)}  ${part}`);
console.log('functions by self time:');
for (const [where, us] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, Number(topArg ?? 25))) if (where !== '(idle)') console.log(`${row(us)}  ${where}`);
