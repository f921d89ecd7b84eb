/**
 * The one call most users need: YAML text + schema → typed value and every located problem.
 * Parsing limits (size, depth, aliases) and syntax errors come first; the walk only runs on a
 * document that is safe to walk. The value is withheld whenever any problem is an error.
 */
import type { Problem } from '../problem.js';
import { parseYaml, type ParseOptions } from './parse.js';
import type { Schema } from './types.js';
import { walkNode, type WalkOptions } from './walk.js';

export interface ReadResult<T> {
  /** Present when no problem is an error (warnings allowed). */
  value: T | undefined;
  problems: Problem[];
}

/** Parses and checks one YAML document. An empty document is read as `emptyValue` (default: `{}`). */
export function readYaml<T = unknown>(schema: Schema, text: string, options: ParseOptions & WalkOptions & { emptyValue?: unknown } = {}): ReadResult<T> {
  const parsed = parseYaml(text, options);
  if (!parsed.doc) return { value: undefined, problems: parsed.problems };
  const contents = parsed.doc.contents;
  const empty = contents === null || (contents && 'value' in contents && contents.value === null && !('items' in contents));
  if (empty) return { value: (options.emptyValue ?? {}) as T, problems: parsed.problems };
  const walked = walkNode<T>(schema, contents, { doc: parsed.doc, lines: parsed.lines, text, ...(parsed.aliases ? { aliases: parsed.aliases } : {}) }, options);
  const problems = [...parsed.problems, ...walked.problems].sort((a, b) => a.line - b.line || a.column - b.column);
  return { value: problems.some((p) => p.severity === 'error') ? undefined : walked.value, problems };
}
