/**
 * YAML text → a `yaml` Document with positions, refusing what would hurt: documents over a
 * size cap, alias bombs (the package's `maxAliasCount`), syntax errors. Problems are located
 * (1-based line:col) and the document is returned only when it can be walked safely.
 */
import { LineCounter, isAlias, parseDocument, visit, type Document } from 'yaml';
import type { Problem } from '../problem.js';

export interface ParseOptions {
  /** Refuse longer texts (default 1 MiB): a config is a page, not a data set. */
  maxBytes?: number;
  /** yaml's budget of alias expansions (default 100): a billion-laughs document is refused at once. */
  maxAliasCount?: number;
}

export interface Parsed {
  /** Undefined when the text cannot be walked (syntax error, size, alias bomb). */
  doc: Document.Parsed | undefined;
  lines: LineCounter;
  problems: Problem[];
}

export const defaultMaxYamlBytes = 1024 * 1024;

/** Parses one YAML document (YAML 1.2 core, merge keys on, duplicate keys left to the walker). */
export function parseYaml(text: string, options: ParseOptions = {}): Parsed {
  const lines = new LineCounter();
  const maxBytes = options.maxBytes ?? defaultMaxYamlBytes;
  const size = Buffer.byteLength(text, 'utf8');
  if (size > maxBytes)
    return { doc: undefined, lines, problems: [problem(0, 0, `the document is ${size} bytes; expected at most ${maxBytes}; refusing to read it`)] };
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: false, merge: true, strict: false });
  const problems: Problem[] = [];
  for (const e of doc.errors) {
    const pos = lines.linePos(e.pos[0]);
    problems.push(problem(pos.line, pos.col, `yaml syntax: ${firstLine(e.message)}`));
  }
  for (const w of doc.warnings) {
    const pos = lines.linePos(w.pos[0]);
    problems.push({ ...problem(pos.line, pos.col, `yaml: ${firstLine(w.message)}`), severity: 'warning' });
  }
  if (doc.errors.length > 0) return { doc: undefined, lines, problems };
  // Without a `*` there is no alias to expand: skip the conversion (it costs ~10% of a parse).
  if (!text.includes('*')) return { doc, lines, problems };
  try {
    doc.toJS({ maxAliasCount: options.maxAliasCount ?? 100 });
  } catch (error) {
    // Other conversion errors (a merge of a non-mapping…) are the walker's to locate and report.
    if (!(error instanceof ReferenceError) || !/alias/i.test(error.message)) return { doc, lines, problems };
    let offset = 0;
    visit(doc, { Alias: (_, node) => (isAlias(node) && node.range ? ((offset = node.range[0]), visit.BREAK) : undefined) });
    const pos = lines.linePos(offset);
    const why = error.message.toLowerCase();
    problems.push(problem(pos.line, pos.col, `too many alias expansions (${why}); expected a document without an alias bomb; refusing to read it`));
    return { doc: undefined, lines, problems };
  }
  return { doc, lines, problems };
}

function problem(line: number, column: number, message: string): Problem {
  return { severity: 'error', path: '', line, column, message };
}

function firstLine(message: string): string {
  const line = message.split('\n')[0] ?? message;
  return line.replace(/ at line \d+, column \d+:?$/, '').replace(/^./, (c) => c.toLowerCase());
}
