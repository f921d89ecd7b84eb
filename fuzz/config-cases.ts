/**
 * Generated and mutated cloud-configs for the config fuzzer (config-fuzz.ts). Valid configs are
 * built from keel's own JSON Schema (`keel cloud-config schema`), with sample values for its
 * patterns; each case then gets up to three mutations: type swaps, renames, deletions,
 * duplicate keys, tags, anchors and aliases of every shape (bombs, chains, undefined,
 * recursive, merges), gzip and base64 contents, headers, MIME multipart, BOMs, CRLF,
 * invalid UTF-8, deep nesting and size. The same seed gives the same cases.
 */
import { gzipSync } from 'node:zlib';
import { stringify } from 'yaml';
import { cloudConfigJsonSchema } from '../src/cli/cloud-config-validate.js';

/** A small seeded PRNG (mulberry32): the same seed, the same cases. */
export class Rng {
  constructor(private state: number) {}
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

export interface ConfigCase {
  bytes: Uint8Array;
  /** What was done to it, for the report: `valid`, `alias-bomb`, `crlf`… */
  labels: string[];
}

type Json = { [k: string]: unknown };

/** Sample values for the schema's patterns (by pattern source), then by key name. */
const byPattern: [RegExp, readonly string[]][] = [
  [/\{0,31\}/, ['core', 'alice', 'svc_1', 'web-admin']],
  [/\(:\[A-Za-z0-9_\.\]/, ['root', 'core:core', '1000:1000']],
  [/\[0-7\]\{1,4\}/, ['0644', '0600', '0755', '644']],
  [/UTC\|UCT/, ['UTC', 'Europe/Berlin', 'America/New_York']],
  [/\\\.conf\$/, ['10-override.conf', 'limits.conf']],
  [/:\\\/\\\/\\S\+/, ['http://127.0.0.1:2379', 'https://updates.example.com/keel']],
  [/\[sS\]\[uU\]\[nN\]/, ['Sun 04:00', '03:30', 'mon 1:15']],
  [/ms\|min\|s\|m\|h\|d/, ['90s', '1h30m', '10m', '0']],
  [/^\^\(\[01\]\\d\|2\[0-3\]\)/, ['04:00', '23:59']],
  [/\{0,62\}/, ['web', 'db-1', 'cache']],
  [/\[\^\\s@\]/, ['docker.io/library/busybox:latest', 'localhost/app']],
  [/^\\S$/, ['sleep 1000', 'true']],
  [/\*=$/, ['A=1', 'PATH=/bin']],
  [/\(ro\|rw\)/, ['/srv/data:/data:ro', 'cache:/cache']],
  [/on-failure/, ['on-failure:3']],
  [/kKmMgGtT/, ['256M', '1G']],
  [/Cc\]\[Aa\]\[Pp/, ['CAP_NET_ADMIN', 'SYS_TIME']],
  [/a-zA-Z0-9\.-\]\+\$/, ['default', 'web']],
];
const byKey: Record<string, readonly string[]> = {
  path: ['/etc/keel/a.conf', '/etc/motd', '/var/lib/app/x', '/home/core/.profile'],
  homedir: ['/home/alice', '/var/lib/svc'],
  shell: ['/bin/bash', '/usr/sbin/nologin'],
  hostname: ['node-1', 'web.example.com'],
  content: ['hello\n', 'line one\nline two\n', '[Service]\nExecStart=/bin/true\n', ''],
  name: ['app.service', 'backup.timer', 'data.mount'],
  passwd: ['$6$salt$hash', '!'],
  encoding: ['b64', 'gzip+base64', 'text/plain'],
  ssh_authorized_keys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGaM user@host', 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQAB key'],
};

/** A value the schema accepts (mostly: patterns and cross-key rules are sampled, not solved). */
function valueFor(schema: Json, rng: Rng, key: string, depth: number): unknown {
  if (Array.isArray(schema.enum)) return rng.pick(schema.enum as unknown[]);
  const options = (schema.anyOf ?? schema.oneOf) as Json[] | undefined;
  if (options) return valueFor(rng.pick(options), rng, key, depth);
  const type = Array.isArray(schema.type) ? rng.pick(schema.type as string[]) : (schema.type as string | undefined);
  switch (type) {
    case 'object': {
      const out: Json = {};
      const props = Object.entries((schema.properties ?? {}) as Record<string, Json>).filter(([k]) => !k.includes('-') || rng.chance(0.1));
      const required = new Set((schema.required ?? []) as string[]);
      const p = depth === 0 ? 0.25 : 0.45;
      for (const [k, s] of props) if (required.has(k) || (depth < 5 && rng.chance(p))) out[k] = valueFor(s, rng, k, depth + 1);
      const extra = Object.values((schema.patternProperties ?? {}) as Record<string, Json>)[0] ?? (typeof schema.additionalProperties === 'object' ? (schema.additionalProperties as Json) : undefined);
      if (extra) for (let i = rng.int(3); i > 0; i--) out[rng.pick(['FOO', 'BAR_1', 'initial_cluster', 'name'])] = valueFor(extra, rng, 'value', depth + 1);
      return out;
    }
    case 'array':
      return Array.from({ length: rng.int(4) }, () => valueFor((schema.items ?? {}) as Json, rng, key, depth + 1));
    case 'integer':
    case 'number': {
      const lo = (schema.minimum as number | undefined) ?? 0;
      const hi = (schema.maximum as number | undefined) ?? lo + 100;
      return lo + rng.int(Math.max(1, Math.min(hi - lo + 1, 1000)));
    }
    case 'boolean':
      return rng.chance(0.5);
    case 'string': {
      const pattern = schema.pattern as string | undefined;
      const hit = pattern ? byPattern.find(([re]) => re.test(pattern)) : undefined;
      if (hit) return rng.pick(hit[1]);
      return rng.pick(byKey[key] ?? ['value', 'a b c', 'x']);
    }
    default:
      return rng.pick(['x', 1, true]);
  }
}

let schemaCache: Json | undefined;
/** A config (as data) generated from `keel cloud-config schema`. */
export function validConfig(rng: Rng): Json {
  schemaCache ??= cloudConfigJsonSchema() as Json;
  return valueFor(schemaCache, rng, '', 0) as Json;
}

/** Mutations on the data, before it is written as YAML. */
const dataMutations: Record<string, (c: Json, rng: Rng) => void> = {
  'type-swap': (c, rng) => {
    const at = randomSlot(c, rng);
    if (at) at.obj[at.key] = rng.pick([5, -1, 1.5, true, null, 'text', [], {}, ['a', 1], { k: 'v' }, '0644', 'yes', 1e309]);
  },
  rename: (c, rng) => {
    const at = randomSlot(c, rng);
    if (!at || Array.isArray(at.obj)) return;
    const value = at.obj[at.key];
    delete at.obj[at.key];
    const k = at.key;
    const i = rng.int(Math.max(1, k.length));
    const name = rng.pick([k.slice(0, i) + k.slice(i + 1), k.replace(/_/g, '-'), k.toUpperCase(), `${k}s`, k.slice(0, i) + 'x' + k.slice(i), '__proto__', 'constructor']);
    Object.defineProperty(at.obj, name, { value, enumerable: true, writable: true, configurable: true });
  },
  deletion: (c, rng) => {
    const at = randomSlot(c, rng);
    if (at && !Array.isArray(at.obj)) delete at.obj[at.key];
  },
  'big-list': (c, rng) => {
    c.runcmd = Array.from({ length: rng.chance(0.05) ? 20_000 : 20 + rng.int(300) }, (_, i) => `echo ${i}`);
  },
  'gzip-content': (c, rng) => {
    const big = [16 * 1024 * 1024, 16 * 1024 * 1024 + 1, 64 * 1024 * 1024];
    const gz = gzipped(rng.chance(0.05) ? rng.pick(big) : rng.pick([10, 1024, 64 * 1024]), rng.pick([0, 7, 255]));
    const content = rng.chance(0.2) ? gz.toString('base64').slice(0, -8) : gz.toString('base64');
    const n = rng.pick([1, 2, 20]);
    c.write_files = Array.from({ length: n }, (_, i) => ({ path: `/etc/z${i}`, encoding: rng.pick(['gz+b64', 'gzip+base64', 'gz', 'b64', 'base64']), content }));
  },
  'base64-content': (c, rng) => {
    c.write_files = [{ path: '/etc/b', encoding: 'b64', content: rng.pick(['aGVsbG8=', 'aGVsbG8', 'not base64!', '====', 'a', Buffer.alloc(rng.chance(0.05) ? 200_000 : rng.int(2000), 3).toString('base64')]) }];
  },
};

/** Gzip of `size` bytes of `fill`, made once per run. */
const gzipCache = new Map<string, Buffer>();
function gzipped(size: number, fill: number): Buffer {
  const key = `${size}:${fill}`;
  let gz = gzipCache.get(key);
  // Gzip members of 1 MiB each, concatenated (gunzip reads them as one stream): the fuzzer never holds the plain bytes.
  const mib = 1024 * 1024;
  if (!gz) gzipCache.set(key, (gz = Buffer.concat([...Array(Math.floor(size / mib)).fill(gzipSync(Buffer.alloc(mib, fill))), gzipSync(Buffer.alloc(size % mib, fill))])));
  return gz;
}

function randomSlot(c: Json, rng: Rng): { obj: Json; key: string } | undefined {
  let obj: Json = c;
  for (let depth = 0; depth < 6; depth++) {
    const keys = Object.keys(obj);
    if (keys.length === 0) return undefined;
    const key = rng.pick(keys);
    const v = obj[key];
    if (v && typeof v === 'object' && rng.chance(0.6) && Object.keys(v).length > 0) obj = v as Json;
    else return { obj, key };
  }
  return undefined;
}

/** Mutations on the YAML text. */
const textMutations: Record<string, (t: string, rng: Rng) => string> = {
  'duplicate-key': (t, rng) => {
    const lines = t.split('\n');
    const i = 1 + rng.int(Math.max(1, lines.length - 1));
    return [...lines.slice(0, i + 1), lines[i] ?? 'hostname: x', ...lines.slice(i + 1)].join('\n');
  },
  tag: (t, rng) => t.replace(/: (\S)/, `: ${rng.pick(['!!binary ', '!!str ', '!!int ', '!!set ', '!!omap ', '!custom ', '!!timestamp ', '!!float ', '!!map ', '!!seq ', '!<tag:x> ', '!!null '])}$1`),
  anchors: (t, rng) => t + '\n' + aliasShape(rng),
  punctuation: (t, rng) => {
    let out = t;
    for (let n = 1 + rng.int(4); n > 0; n--) {
      const i = rng.int(out.length + 1);
      out = out.slice(0, i) + rng.pick([':', '- ', '[', ']', '{', '}', '&a ', '*a', '!', '|', '>', "'", '"', '#', '%', '@', '\t', '\n', '? ', ',', '<<: ']) + out.slice(i);
    }
    return out;
  },
  'line-ops': (t, rng) => {
    const lines = t.split('\n');
    const i = rng.int(lines.length);
    const j = rng.int(lines.length);
    [lines[i], lines[j]] = [lines[j]!, lines[i]!];
    if (rng.chance(0.5)) lines[i] = ' '.repeat(rng.int(6)) + lines[i]!.trimStart();
    return lines.join('\n');
  },
  truncate: (t, rng) => t.slice(0, rng.int(t.length + 1)),
  crlf: (t) => t.replace(/\n/g, '\r\n'),
  deep: (t, rng) => t + '\n' + deepShape(rng),
  'long-line': (t, rng) => `${t}\nhostname: ${'h'.repeat(rng.chance(0.05) ? rng.pick([100_000, 1_100_000]) : rng.pick([64, 254, 1000]))}`,
  'many-keys': (t, rng) => t + '\n' + Array.from({ length: rng.chance(0.05) ? 30_000 : rng.int(200) }, (_, i) => `k${i}: ${i}`).join('\n'),
};

/** Anchors and aliases of every shape, as a top-level key or two. */
function aliasShape(rng: Rng): string {
  const n = 2 + rng.int(12);
  switch (rng.int(9)) {
    case 0: // billion laughs
      return ['l0: &l0 [a, a, a, a, a, a, a, a, a, a]', ...Array.from({ length: n }, (_, i) => `l${i + 1}: &l${i + 1} [${Array(10).fill(`*l${i}`).join(', ')}]`)].join('\n');
    case 1: // wide: many anchors, many honest uses
      return ['defs:', ...Array.from({ length: 50 }, (_, i) => `  - &w${i} v${i}`), 'runcmd:', ...Array.from({ length: 50 * n }, (_, i) => `  - *w${i % 50}`)].join('\n');
    case 2:
      return 'hostname: *undefined_anchor';
    case 3:
      return 'r: &r [1, *r]';
    case 4: // merge keys, good and bad
      return 'base: &b {path: /etc/m, content: x}\nwrite_files:\n  - <<: *b\n  - <<: [*b, *b]\n    path: /etc/n\n  - <<: 5';
    case 5: // aliases as keys and of keys
      return 'k: &k hostname\n*k : x\n? &c [a]\n: *c';
    case 6: // chains that deepen
      return Array.from({ length: n }, (_, i) => `d${i}: &d${i} [[[[[[[[[[${i === 0 ? 'x' : `*d${i - 1}`}]]]]]]]]]]`).join('\n');
    case 7: // alias before anchor, redefinition
      return 'a: *late\nb: &late 1\nc: &late 2\nd: *late';
    default: // the 16 MiB file behind many aliases (now and then: decoding it takes a while)
      if (!rng.chance(0.1)) return 'x: &x {a: [1, 2]}\ny: {<<: *x, b: *x}';
      return `write_files:\n  - &f {path: /etc/f, encoding: gz+b64, content: ${gzipped(16 * 1024 * 1024, 0).toString('base64')}}\n${'  - *f\n'.repeat(n * 8)}`;
  }
}

function deepShape(rng: Rng): string {
  const n = rng.chance(0.05) ? rng.pick([5000, 200_000]) : rng.pick([10, 50, 99, 100, 101, 500]);
  switch (rng.int(4)) {
    case 0:
      return `deep: ${'['.repeat(n)}${']'.repeat(n)}`;
    case 1:
      return `deep: ${'{a: '.repeat(n)}1${'}'.repeat(n)}`;
    case 2:
      return `deep:\n  ${'- '.repeat(n)}x`;
    default:
      return Array.from({ length: Math.min(n, 1400) }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n');
  }
}

/** Mutations on the bytes: encodings and headers around the YAML. */
function wrap(text: string, rng: Rng, labels: string[]): Uint8Array {
  let bytes = Buffer.from(text, 'utf8');
  const r = rng.next();
  if (r < 0.05) labels.push('bom'), (bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytes]));
  else if (r < 0.12) {
    labels.push('invalid-utf8');
    for (let n = 1 + rng.int(3); n > 0; n--) {
      const i = rng.int(bytes.length + 1);
      bytes = Buffer.concat([bytes.subarray(0, i), Buffer.from([rng.pick([0x80, 0xbf, 0xc0, 0xc3, 0xe2, 0xed, 0xf4, 0xf5, 0xfe, 0xff])]), bytes.subarray(i)]);
    }
  } else if (r < 0.17) labels.push('header'), (bytes = Buffer.from(rng.pick(['', '#cloud-config \n', '#!/bin/sh\n', '#cloud-boothook\n', ' #cloud-config\n', '#include\n']) + text.replace(/^#cloud-config\n/, '')));
  else if (r < 0.22) labels.push('multipart'), (bytes = Buffer.from(multipart(text, rng)));
  if (rng.chance(0.05)) labels.push('gzip-user-data'), (bytes = gzipSync(bytes));
  return new Uint8Array(bytes);
}

function multipart(text: string, rng: Rng): string {
  const b = rng.pick(['==BOUNDARY==', 'x', '']);
  const body = rng.chance(0.3) ? Buffer.from(text).toString('base64') : text;
  const enc = body === text ? '' : 'Content-Transfer-Encoding: base64\n';
  const parts = [`Content-Type: text/cloud-config\n${enc}\n${body}`, 'Content-Type: text/x-shellscript\n\n#!/bin/sh\necho hi', `Content-Type: ${rng.pick(['text/plain', 'text/cloud-boothook', 'multipart/mixed'])}\n\nx`];
  const chosen = parts.filter(() => rng.chance(0.7));
  return `Content-Type: multipart/mixed; boundary="${b}"\nMIME-Version: 1.0\n\n${chosen.map((p) => `--${b}\n${p}\n`).join('')}${rng.chance(0.8) ? `--${b}--\n` : ''}`;
}

/** The case of index `i` for a seed: independent of the cases before it. */
export function configCase(seed: number, i: number): ConfigCase {
  const rng = new Rng((seed * 0x9e3779b1) ^ (i * 0x85ebca6b));
  const labels: string[] = [];
  const config = validConfig(rng);
  const mutations = rng.chance(0.2) ? 0 : 1 + rng.int(3);
  const dataKeys = Object.keys(dataMutations);
  const textKeys = Object.keys(textMutations);
  const picked = Array.from({ length: mutations }, () => rng.pick([...dataKeys, ...textKeys]));
  for (const m of picked.filter((m) => m in dataMutations)) labels.push(m), dataMutations[m]!(config, rng);
  let text = `#cloud-config\n${Object.keys(config).length === 0 ? '' : stringify(config, { lineWidth: 0, defaultStringType: rng.pick(['PLAIN', 'QUOTE_DOUBLE', 'BLOCK_LITERAL'] as const), collectionStyle: rng.chance(0.2) ? 'flow' : 'any' })}`;
  for (const m of picked.filter((m) => m in textMutations)) labels.push(m), (text = textMutations[m]!(text, rng));
  if (labels.length === 0) labels.push('generated');
  return { bytes: wrap(text, rng, labels), labels };
}
