/**
 * The located walker: a `yaml` node tree checked against a schema description. It returns the
 * plain (or refined, typed) value and every problem with 1-based line:col and a path like
 * `users[1].groups[0]`, never just the first. It never throws on input: whatever the document
 * holds, the answer is a value and/or problems.
 */
import { isMap, isScalar, isSeq, type Document, type LineCounter, type Node, type YAMLMap } from 'yaml';
import { AliasIndex } from './alias-index.js';
import type { Problem, Severity } from '../problem.js';
import { expectedOf, foundOf, quote } from './describe.js';
import { childOf, pairsOf } from './merge-keys.js';
import { nearMiss } from './near-miss.js';
import { readScalar } from './scalars.js';
import { toPlain } from './to-plain.js';
import type { ObjectSchema, RefineContext, Schema, UnionSchema } from './types.js';

export interface WalkOptions {
  /** Stop after visiting this many nodes (aliases expanded), a second guard besides the parser's alias budget. */
  maxNodes?: number;
  /** Keep this many problems (default 1000); the rest are counted in one last problem. */
  maxProblems?: number;
}

export interface WalkResult<T = unknown> {
  value: T | undefined;
  problems: Problem[];
}

type MaybeNode = Node | null | undefined;

/** `a.b` / `a[1]`: the path of a key or an index under `path`. */
export function childPath(path: string, key: string | number): string {
  return typeof key === 'number' ? `${path}[${key}]` : path ? `${path}.${key}` : key;
}

/** The parsed document a walk reads: nodes, their line counter and the text (for scalars' source). */
export interface WalkSource {
  doc: Document;
  lines: LineCounter;
  text: string;
  /** The document's aliases, resolved once (parseYaml gives them); indexed here when absent. */
  aliases?: AliasIndex;
}

/** Walks `root` (usually `doc.contents`) against `schema`. */
export function walkNode<T = unknown>(schema: Schema, root: MaybeNode, source: WalkSource, options: WalkOptions = {}): WalkResult<T> {
  const aliases = source.aliases ?? new AliasIndex(source.doc);
  const w = new Walker(aliases, source.lines, source.text, options.maxNodes ?? 200_000, new Map(), options.maxProblems ?? 1000);
  const value = w.walk(schema, root, '', root);
  return { value: value as T | undefined, problems: w.finish() };
}

class Walker {
  readonly problems: Problem[] = [];
  private visits = 0;
  private exhausted = false;
  /** Problems past maxProblems: counted, not kept (a document of 30,000 unknown keys is not 30,000 lines to read). */
  private dropped: { count: number; errors: number; first?: Problem } = { count: 0, errors: 0 };
  constructor(
    private readonly aliases: AliasIndex,
    private readonly lines: LineCounter,
    private readonly text: string,
    private readonly maxNodes: number,
    /** Values refine rules share across one walk (RefineContext.shared). */
    private readonly shared: Map<object, unknown>,
    private readonly maxProblems: number,
  ) {}

  report(severity: Severity, node: MaybeNode, fallback: MaybeNode, path: string, message: string | (() => string)): void {
    const offset = node?.range?.[0] ?? fallback?.range?.[0];
    const pos = offset === undefined ? { line: 0, col: 0 } : this.lines.linePos(offset);
    this.add({ severity, path, line: pos.line, column: pos.col, message: '' }, message);
  }

  /** Keeps a problem, or only counts it once maxProblems are kept. */
  private add(p: Problem, message: string | (() => string) = p.message): void {
    if (this.full()) {
      this.dropped.count++;
      if (p.severity === 'error') this.dropped.errors++;
      this.dropped.first ??= p;
      return;
    }
    this.problems.push({ ...p, message: typeof message === 'string' ? message : message() });
  }

  /** True once maxProblems are kept: further problems are only counted (and their messages not built). */
  full(): boolean {
    return this.problems.length >= this.maxProblems;
  }

  /** The kept problems, and one more that counts the rest, located at the first of them. */
  finish(): Problem[] {
    const { count, errors, first } = this.dropped;
    if (count === 0 || !first) return this.problems;
    const more = `${count} more problem${count === 1 ? '' : 's'} (${errors} error${errors === 1 ? '' : 's'}) from here on, not listed; expected at most ${this.maxProblems}; fix the ones above first`;
    return [...this.problems, { ...first, severity: errors > 0 ? 'error' : 'warning', message: more }];
  }

  reporter(node: MaybeNode, fallback: MaybeNode, path: string) {
    return {
      error: (m: string) => this.report('error', node, fallback, path, m),
      warn: (m: string) => this.report('warning', node, fallback, path, m),
    };
  }

  walk(schema: Schema, at: MaybeNode, path: string, fallback: MaybeNode): unknown {
    if (this.exhausted) return undefined;
    if (++this.visits > this.maxNodes) {
      this.exhausted = true;
      this.report('error', at, fallback, path, `the document expands to more than ${this.maxNodes} nodes; expected a smaller document; refusing to read further`);
      return undefined;
    }
    const node = this.aliases.resolve(at);
    const where = at ?? fallback;
    const r = this.reporter(where, fallback, path);
    const mismatch = () => {
      r.error(`expected ${expectedOf(schema)}, found ${foundOf(node)}`);
      return undefined;
    };
    switch (schema.kind) {
      case 'any':
        return node ? toPlain(node, this.aliases) : null;
      case 'string':
      case 'integer':
      case 'number':
      case 'boolean':
      case 'enum':
      case 'custom':
        return isScalar(node) ? readScalar(schema, node.value, this.sourceOf(node), r) : mismatch();
      case 'list': {
        if (!isSeq(node)) {
          if (schema.acceptSingle && isScalar(node) && node.value !== null) {
            r.warn(`expected ${expectedOf(schema)}, found ${foundOf(node)}; reading it as a list of one`);
            const one = this.walk(schema.items, node, childPath(path, 0), where);
            return one === undefined ? undefined : [one];
          }
          return mismatch();
        }
        if (schema.minItems !== undefined && node.items.length < schema.minItems)
          r.error(`expected at least ${schema.minItems} item${schema.minItems === 1 ? '' : 's'}, found ${node.items.length}`);
        const out: unknown[] = [];
        node.items.forEach((item, i) => {
          const v = this.walk(schema.items, item as MaybeNode, childPath(path, i), where);
          if (v !== undefined) out.push(v);
        });
        return out;
      }
      case 'object':
        return isMap(node) ? this.object(schema, node, path) : mismatch();
      case 'union':
        return this.union(schema, node, at, path, fallback);
    }
  }

  private sourceOf(node: Node): string {
    const range = node.range;
    if (range && this.text) return this.text.slice(range[0], range[1]);
    return isScalar(node) ? String((node as { source?: string }).source ?? node.value) : '';
  }

  private union(schema: UnionSchema, node: MaybeNode, at: MaybeNode, path: string, fallback: MaybeNode): unknown {
    const shape = isMap(node) ? 'map' : isSeq(node) ? 'seq' : 'scalar';
    const fits = schema.options.filter((o) => shapeOf(o).includes(shape));
    if (fits.length === 1) return this.walk(fits[0]!, at, path, fallback);
    if (fits.length > 1) {
      // Several scalar readings: the first that reads without an error wins, reported as it would be alone.
      for (const option of fits) {
        const probe = new Walker(this.aliases, this.lines, this.text, this.maxNodes - this.visits, this.shared, this.maxProblems);
        const v = probe.walk(option, at, path, fallback);
        if (!probe.problems.some((p) => p.severity === 'error')) {
          for (const p of probe.problems) this.add(p);
          this.visits += probe.visits;
          return v;
        }
      }
    }
    this.report('error', at ?? fallback, fallback, path, `expected ${expectedOf(schema)}, found ${foundOf(node)}`);
    return undefined;
  }

  private object(schema: ObjectSchema, map: YAMLMap, path: string): unknown {
    const normalize = schema.normalizeKeys !== false;
    const out: Record<string, unknown> = {};
    const seen = new Map<string, { key: MaybeNode; value: MaybeNode }>();
    const known = Object.keys(schema.fields);
    for (const pair of pairsOf(map, this.aliases, (node, m) => this.report('error', node, map, path, m))) {
      const keyNode = pair.key as MaybeNode;
      const valueNode = pair.value as MaybeNode;
      if (!isScalar(keyNode) || keyNode.value === null || typeof keyNode.value === 'object') {
        this.report('error', keyNode, map, path, `expected a plain key, found ${foundOf(keyNode)}`);
        continue;
      }
      const raw = String(keyNode.value);
      const key = normalize ? raw.replace(/-/g, '_') : raw;
      const keyPath = childPath(path, key);
      const first = seen.get(key);
      if (first) {
        const line = first.key?.range ? this.lines.linePos(first.key.range[0]).line : 0;
        this.report('error', keyNode, map, keyPath, `duplicate key ${quote(raw)} (first at line ${line}); expected each key once`);
        continue;
      }
      seen.set(key, { key: keyNode, value: valueNode });
      // Own keys only: a key like `toString` or `__proto__` is data, not a way into prototypes.
      const field = Object.hasOwn(schema.fields, key) ? schema.fields[key] : undefined;
      if (!field) {
        if (schema.additional) {
          if (schema.keyPattern && !schema.keyPattern.test(raw)) {
            this.report('error', keyNode, map, keyPath, `expected a key that is ${schema.keyPatternText ?? `matching ${schema.keyPattern}`}, found ${quote(raw)}`);
            continue;
          }
          const v = this.walk(schema.additional, valueNode, keyPath, keyNode);
          if (v !== undefined) setOwn(out, key, v);
          continue;
        }
        this.report('warning', keyNode, map, keyPath, () => {
          const guess = nearMiss(raw, known);
          return `unknown key ${quote(raw)}; ${guess ? `did you mean ${quote(guess)}? ` : ''}ignoring it`;
        });
        continue;
      }
      if (field.deprecated) this.report('warning', keyNode, map, keyPath, field.deprecated);
      if (field.ignored) continue;
      const isNull = valueNode === null || valueNode === undefined || (isScalar(valueNode) && valueNode.value === null);
      if (isNull && !field.required && field.schema.kind !== 'any') {
        this.report('warning', keyNode, map, keyPath, `empty value; expected ${expectedOf(field.schema)}; ignoring the key`);
        continue;
      }
      const v = this.walk(field.schema, valueNode, keyPath, keyNode);
      if (v !== undefined) setOwn(out, key, v);
    }
    for (const [name, field] of Object.entries(schema.fields)) {
      if (field.required && !seen.has(name)) this.report('error', map, map, path, `missing required key ${quote(name)}`);
    }
    return schema.refine ? schema.refine(out, this.refineContext(map, path, seen, normalize)) : out;
  }

  /** What an object's refine rule may ask of the document: where keys are, what was written, per-walk shared values. */
  private refineContext(map: YAMLMap, path: string, seen: Map<string, { key: MaybeNode; value: MaybeNode }>, normalize: boolean): RefineContext {
    const locate = (key: string | undefined) => (key === undefined ? map : (seen.get(key)?.value ?? seen.get(key)?.key ?? map));
    return {
      error: (key, m) => this.report('error', locate(key), map, key === undefined ? path : childPath(path, key), m),
      warn: (key, m) => this.report('warning', locate(key), map, key === undefined ? path : childPath(path, key), m),
      path: (key) => (key === undefined ? path : childPath(path, key)),
      given: (key) => seen.has(key),
      shared: <S>(key: object, init: () => S): S => {
        if (!this.shared.has(key)) this.shared.set(key, init());
        return this.shared.get(key) as S;
      },
      itemCount: (key) => {
        const node = childOf(this.aliases, map, key, normalize);
        const list = this.aliases.resolve(node);
        return isSeq(list) ? list.items.length : undefined;
      },
      at: (keys, severity, m) => {
        let node: MaybeNode = map;
        let where = path;
        for (const k of keys) {
          where = childPath(where, k);
          const next = childOf(this.aliases, node, k, normalize);
          if (next) node = next;
        }
        this.report(severity, node, map, where, m);
      },
    };
  }
}

/** Sets an own data property, even for `__proto__`. */
function setOwn(to: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(to, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Which node shapes a schema accepts. */
function shapeOf(schema: Schema): ('map' | 'seq' | 'scalar')[] {
  switch (schema.kind) {
    case 'object':
      return ['map'];
    case 'list':
      return schema.acceptSingle ? ['seq', 'scalar'] : ['seq'];
    case 'union':
      return [...new Set(schema.options.flatMap(shapeOf))];
    case 'any':
      return ['map', 'seq', 'scalar'];
    default:
      return ['scalar'];
  }
}
