import { KeelError, type ErrorKind } from '../errors.js';

/**
 * Reading JSON that keel did not just make (manifests, metadata, records on disk): a value of
 * the wrong shape is reported as data naming the file and what was expected, never as the
 * TypeError the first property access on it would throw.
 */

/** A short description of a JSON value for a message: `null`, `a list`, `the string "x"`, … */
export function describeJson(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === 'number' || typeof value === 'boolean') return `${typeof value} ${String(value)}`;
  if (typeof value === 'object') return 'an object';
  return 'nothing';
}

/** True for a JSON object (not null, not a list). */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Where a parsed document came from and what a refusal means, for the messages. */
export interface JsonSource {
  /** The file or URL, first word of every message. */
  label: string;
  /** What the document should be, e.g. `a release manifest (a JSON object with "version" and "files")`. */
  expected: string;
  /** What happens on refusal, e.g. `nothing published`. */
  consequence: string;
  kind?: ErrorKind;
}

/** The refusal for a document of the wrong shape: `LABEL: expected …, found …; CONSEQUENCE`. */
export function shapeError(source: JsonSource, found: string, cause?: unknown): KeelError {
  return new KeelError(source.kind ?? 'invalid-input', `${source.label}: expected ${source.expected}, found ${found}; ${source.consequence}`, { cause });
}

/** Parses `text` and requires a JSON object. */
export function parseJsonObject(text: string, source: JsonSource): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw shapeError(source, text.trim() === '' ? 'an empty file' : 'text that is not JSON', error);
  }
  if (!isJsonObject(value)) throw shapeError(source, describeJson(value));
  return value;
}
