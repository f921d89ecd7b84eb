/**
 * Scalar readers of the walker: a YAML scalar's value (and its source text) checked against a
 * string, number, boolean, enum or custom schema. Coercions (`"5"` for a number, `yes` for a
 * boolean, `8080` for text) are warnings that say how the value was read.
 */
import { expectedOf, foundValue, oneOfText, quote } from './describe.js';
import { nearMiss } from './near-miss.js';
import type { BooleanSchema, CustomSchema, EnumSchema, NumberSchema, StringSchema, ValueReporter } from './types.js';

/** The YAML 1.1 boolean spellings people still write; read with a warning. */
const booleanWords: Record<string, boolean> = { true: true, false: false, yes: true, no: false, on: true, off: false, y: true, n: false };

/** Reads one scalar; undefined (with an error reported) when it does not fit. */
export function readScalar(schema: StringSchema | NumberSchema | BooleanSchema | EnumSchema | CustomSchema, value: unknown, source: string, r: ValueReporter): unknown {
  switch (schema.kind) {
    case 'string':
      return readString(schema, value, source, r);
    case 'integer':
    case 'number':
      return readNumber(schema, value, r);
    case 'boolean':
      return readBoolean(schema, value, r);
    case 'enum':
      return readEnum(schema, value, source, r);
    case 'custom':
      return readCustom(schema, value, source, r);
  }
}

function readBoolean(schema: BooleanSchema, value: unknown, r: ValueReporter): boolean | undefined {
  if (typeof value === 'boolean') return value;
  const key = typeof value === 'string' ? value.toLowerCase() : '';
  const word = Object.hasOwn(booleanWords, key) ? booleanWords[key] : undefined;
  if (word !== undefined && schema.coerce !== 'never') {
    if (schema.coerce !== 'silent') r.warn(`read ${foundValue(value)} as ${word}; expected true or false`);
    return word;
  }
  r.error(`expected ${expectedOf(schema)}, found ${foundValue(value)}`);
  return undefined;
}

function readEnum(schema: EnumSchema, value: unknown, source: string, r: ValueReporter): unknown {
  if (schema.values.includes(value as string)) return value;
  // `off` or `no` typed by YAML as something else still means the word written.
  const text = source.trim().replace(/^["']|["']$/g, '');
  if (typeof value !== 'string' && schema.values.includes(text)) return text;
  const words = schema.values.filter((x): x is string => typeof x === 'string');
  const shown = typeof value === 'string' ? value : text;
  const guess = nearMiss(shown, words);
  r.error(`expected ${oneOfText(schema.values)}, found ${quote(shown)}${guess !== undefined ? `; did you mean ${guess}?` : ''}`);
  return undefined;
}

function readString(schema: StringSchema, value: unknown, source: string, r: ValueReporter): string | undefined {
  let text: string;
  if (typeof value === 'string') text = value;
  else if ((typeof value === 'number' || typeof value === 'boolean') && schema.coerce !== 'never') {
    text = source.trim();
    if (schema.coerce !== 'silent') r.warn(`read ${foundValue(value)} as the string ${quote(text)}; expected ${expectedOf(schema)} (quote it to say so)`);
  } else {
    r.error(`expected ${expectedOf(schema)}, found ${foundValue(value)}`);
    return undefined;
  }
  if (schema.minLength !== undefined && text.length < schema.minLength) {
    r.error(schema.minLength === 1 ? `expected ${expectedOf(schema)}, found an empty string` : `expected at least ${schema.minLength} characters, found ${text.length}`);
    return undefined;
  }
  if (schema.maxLength !== undefined && text.length > schema.maxLength) {
    r.error(`expected at most ${schema.maxLength} characters, found ${text.length}`);
    return undefined;
  }
  if (schema.pattern && !schema.pattern.test(text)) {
    r.error(`expected ${expectedOf(schema)}, found ${quote(text)}`);
    return undefined;
  }
  const problem = schema.check?.(text);
  if (problem !== undefined) {
    r.error(problem);
    return undefined;
  }
  return text;
}

function readNumber(schema: NumberSchema, value: unknown, r: ValueReporter): number | undefined {
  let n: number | undefined = typeof value === 'number' ? value : undefined;
  if (typeof value === 'string' && schema.coerce !== 'never' && /^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$/.test(value)) {
    n = Number(value);
    if (schema.coerce !== 'silent') r.warn(`read the string ${quote(value)} as the number ${n}; expected ${expectedOf(schema)}`);
  }
  if (n === undefined || !Number.isFinite(n) || (schema.kind === 'integer' && !Number.isInteger(n))) {
    r.error(`expected ${expectedOf(schema)}, found ${foundValue(value)}`);
    return undefined;
  }
  if ((schema.minimum !== undefined && n < schema.minimum) || (schema.maximum !== undefined && n > schema.maximum)) {
    r.error(`expected ${expectedOf(schema)}, found ${n}`);
    return undefined;
  }
  return n;
}

function readCustom(schema: CustomSchema, value: unknown, source: string, r: ValueReporter): unknown {
  let failed = false;
  const v = schema.read({ value, source }, { error: (m) => ((failed = true), r.error(m)), warn: r.warn });
  return failed ? undefined : v;
}
