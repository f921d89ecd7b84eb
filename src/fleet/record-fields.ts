/**
 * Field checks shared by the node and rollout record readers. A reader collects the first
 * problem as a sentence naming the field; the caller turns it into a warning naming the key
 * and skips the record, so a hostile or foreign value never stops an agent or a status.
 */

/** Longest string field kept from etcd: an error message or a reason, not a log. */
export const maxFieldLength = 2048;

/** Thrown inside a reader only, caught by `readRecord`: the problem, without the key. */
export class FieldProblem extends Error {}

export type Fields = Record<string, unknown>;

/** The JSON object in `text`, or a problem. */
export function objectOf(text: string): Fields {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new FieldProblem('expected JSON, found unparsable text');
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new FieldProblem(`expected a JSON object, found ${Array.isArray(data) ? 'an array' : typeof data}`);
  return data as Fields;
}

export function str(f: Fields, name: string, path = name): string {
  const v = f[name];
  if (typeof v !== 'string' || v.length === 0) throw new FieldProblem(`${path}: expected a non-empty string, found ${v === undefined ? 'nothing' : JSON.stringify(v)?.slice(0, 40)}`);
  if (v.length > maxFieldLength) throw new FieldProblem(`${path}: expected at most ${maxFieldLength} characters, found ${v.length}`);
  return v;
}

export function optStr(f: Fields, name: string, path = name): string | undefined {
  return f[name] === undefined ? undefined : str(f, name, path);
}

/** An RFC 3339 time (any form Date.parse takes, as written by toISOString). */
export function time(f: Fields, name: string, path = name): string {
  const v = str(f, name, path);
  if (Number.isNaN(Date.parse(v))) throw new FieldProblem(`${path}: expected an RFC 3339 time, found ${JSON.stringify(v).slice(0, 40)}`);
  return v;
}

export function optTime(f: Fields, name: string, path = name): string | undefined {
  return f[name] === undefined ? undefined : time(f, name, path);
}

export function obj(f: Fields, name: string, path = name): Fields {
  const v = f[name];
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new FieldProblem(`${path}: expected an object, found ${JSON.stringify(v)?.slice(0, 40) ?? 'nothing'}`);
  return v as Fields;
}

export function optObj(f: Fields, name: string, path = name): Fields | undefined {
  return f[name] === undefined ? undefined : obj(f, name, path);
}

export function list(f: Fields, name: string, path = name): unknown[] {
  const v = f[name];
  if (!Array.isArray(v)) throw new FieldProblem(`${path}: expected a list, found ${JSON.stringify(v)?.slice(0, 40) ?? 'nothing'}`);
  return v;
}

/** Runs a reader; a problem becomes a warning naming the key and what happens next. */
export function readRecord<T>(key: string, what: string, read: () => T): { record: T } | { warning: string } {
  try {
    return { record: read() };
  } catch (error) {
    if (!(error instanceof FieldProblem)) throw error;
    return { warning: `${key}: ${error.message}; skipping this ${what}` };
  }
}
