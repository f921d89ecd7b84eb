/**
 * YAML text → a `yaml` Document with positions, refusing what would hurt, each with one
 * located problem: documents over a size or token cap, nesting deeper than a fixed limit (checked on
 * the parser's own stack before the composer recurses, so the answer never depends on how
 * much call stack the caller has left), syntax errors, undefined or recursive aliases and
 * alias expansions past a node budget (alias-index.ts, linear time). The document is
 * returned only when it can be walked safely. The library never writes to stderr here.
 */
import { Composer, Lexer, LineCounter, Parser, type Document } from 'yaml';
import type { Problem } from '../problem.js';
import { AliasIndex } from './alias-index.js';

export interface ParseOptions {
  /** Refuse longer texts (default 1 MiB): a config is a page, not a data set. */
  maxBytes?: number;
  /** Collections nested in one another, aliases expanded (default 100). */
  maxDepth?: number;
  /** Nodes the document may expand to through its aliases (default 200,000): a bomb is refused before any walk. */
  maxNodes?: number;
  /**
   * Lexical tokens the document may hold (default 80,000, about 11,000 lines of YAML). The `yaml`
   * package needs 3 to 7 µs of CPU per token here, so this bounds a document's parse to a few tenths of a
   * second of CPU where the byte cap alone would allow several seconds.
   */
  maxTokens?: number;
}

export interface Parsed {
  /** Undefined when the text cannot be walked (syntax error, size, depth, aliases). */
  doc: Document.Parsed | undefined;
  lines: LineCounter;
  problems: Problem[];
  /** The document's aliases, resolved once (present with `doc`). */
  aliases?: AliasIndex;
}

export const defaultMaxYamlBytes = 1024 * 1024;
export const defaultMaxYamlDepth = 100;
export const defaultMaxYamlNodes = 200_000;
export const defaultMaxYamlTokens = 80_000;

/** Stray tokens (syntax errors at the top level) read before giving up on the rest of the text. */
const maxStrayTokens = 100;

/** The parser's stack holds the document and the scalar being read besides the collections. */
const parserStackExtra = 2;

/** Parses one YAML document (YAML 1.2 core, merge keys on, duplicate keys left to the walker). */
export function parseYaml(text: string, options: ParseOptions = {}): Parsed {
  const lines = new LineCounter();
  const maxBytes = options.maxBytes ?? defaultMaxYamlBytes;
  const maxDepth = options.maxDepth ?? defaultMaxYamlDepth;
  const maxNodes = options.maxNodes ?? defaultMaxYamlNodes;
  const maxTokens = options.maxTokens ?? defaultMaxYamlTokens;
  const at = (offset: number, message: string, severity: Problem['severity'] = 'error'): Problem => {
    const pos = lines.linePos(offset);
    return { severity, path: '', line: pos.line, column: pos.col, message };
  };
  const size = Buffer.byteLength(text, 'utf8');
  if (size > maxBytes) return { doc: undefined, lines, problems: [problem(0, 0, `the document is ${size} bytes; expected at most ${maxBytes}; refusing to read it`)] };

  // The lexer and parser keep their own stacks (no recursion); the composer recurses once per level.
  const parser = new Parser(lines.addNewLine);
  lines.addNewLine(0);
  const tokens = [];
  let lexemes = 0;
  let strayTokens = 0;
  let stoppedAt: number | undefined;
  for (const lexeme of new Lexer().lex(text, false)) {
    if (++lexemes > maxTokens)
      return { doc: undefined, lines, problems: [at(parser.offset, `the document has more than ${maxTokens} yaml tokens; expected at most ${maxTokens} (a config, not a data set); refusing to read it`)] };
    for (const token of parser.next(lexeme)) {
      // Text the parser cannot place is one error token per lexeme: past a few, the rest is noise.
      if (token.type === 'error' && ++strayTokens > maxStrayTokens) stoppedAt ??= token.offset;
      else if (stoppedAt === undefined) tokens.push(token);
    }
    if (stoppedAt !== undefined) break;
    if (parser.stack.length > maxDepth + parserStackExtra) {
      return { doc: undefined, lines, problems: [at(parser.offset, `collections are nested deeper than ${maxDepth} levels; expected at most ${maxDepth}; refusing to read the document`)] };
    }
  }
  if (stoppedAt === undefined) for (const token of parser.end()) tokens.push(token);

  // logLevel 'error': the library reports through doc.errors/warnings, never process.emitWarning.
  const composer = new Composer({ prettyErrors: false, uniqueKeys: false, merge: true, strict: false, logLevel: 'error' });
  let doc: Document.Parsed | undefined;
  let second: number | undefined;
  // The library makes an Error per syntax problem; their stack traces (unused) cost 30 µs each, and
  // broken text can hold one per token: a 26 KB file spent 0.8 s of CPU on them.
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    for (const d of composer.compose(tokens, true, text.length)) {
      if (!doc) doc = d;
      else {
        second = d.range[0];
        break;
      }
    }
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
  if (doc && second !== undefined) return { doc: undefined, lines, problems: [...located(doc, at), at(second, 'a second yaml document; expected one document (one #cloud-config); refusing to read it')] };
  if (!doc) return { doc: undefined, lines, problems: [] };
  const problems = located(doc, at);
  if (stoppedAt !== undefined) problems.push(at(stoppedAt, `more than ${maxStrayTokens} yaml tokens out of place; expected yaml; reading stopped here`));
  if (doc.errors.length > 0 || stoppedAt !== undefined) return { doc: undefined, lines, problems };
  const aliases = new AliasIndex(doc);
  const refused = aliases.check({ maxNodes, maxDepth });
  if (refused) return { doc: undefined, lines, problems: [...problems, at(refused.offset, refused.message)] };
  return { doc, lines, problems, aliases };
}

/** The library's errors and warnings, located; past maxStrayTokens of them, one more that counts the rest. */
function located(doc: Document.Parsed, at: (offset: number, message: string, severity?: Problem['severity']) => Problem): Problem[] {
  const all = [...doc.errors.map((e) => ({ e, severity: 'error' as const })), ...doc.warnings.map((e) => ({ e, severity: 'warning' as const }))];
  const shown = all.slice(0, maxStrayTokens).map(({ e, severity }) => at(e.pos[0], `${severity === 'error' ? 'yaml syntax' : 'yaml'}: ${firstLine(e.message)}`, severity));
  const rest = all.slice(maxStrayTokens);
  if (rest.length > 0) shown.push(at(rest[0]!.e.pos[0], `${rest.length} more yaml problems from here on, not listed; fix the ones above first`, rest.some((r) => r.severity === 'error') ? 'error' : 'warning'));
  return shown;
}

function problem(line: number, column: number, message: string): Problem {
  return { severity: 'error', path: '', line, column, message };
}

function firstLine(message: string): string {
  const line = message.split('\n')[0] ?? message;
  return line.replace(/ at line \d+, column \d+:?$/, '').replace(/^./, (c) => c.toLowerCase());
}
