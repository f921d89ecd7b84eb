/**
 * The words of problem messages: what a schema expects (`a list of group names`) and what a
 * node is (`a string`), so every message reads `expected X, found Y`.
 */
import { isAlias, isMap, isScalar, isSeq } from 'yaml';
import type { Schema } from './types.js';

/** A noun phrase for what the schema accepts. */
export function expectedOf(schema: Schema): string {
  if (schema.expected) return schema.expected;
  switch (schema.kind) {
    case 'string':
      return schema.patternText ?? 'a string';
    case 'integer':
      return rangeText('an integer', schema.minimum, schema.maximum);
    case 'number':
      return rangeText('a number', schema.minimum, schema.maximum);
    case 'boolean':
      return 'true or false';
    case 'enum':
      return oneOfText(schema.values);
    case 'list':
      return `a list of ${pluralOf(schema.items)}`;
    case 'object':
      return 'a mapping';
    case 'union':
      return schema.options.map(expectedOf).join(' or ');
    case 'custom':
      return 'a value';
    case 'any':
      return 'anything';
  }
}

/** `one of a, b or c`, the words quoted only when they would be ambiguous. */
export function oneOfText(values: readonly unknown[]): string {
  const words = values.map((v) => (typeof v === 'string' ? v : JSON.stringify(v)));
  if (words.length === 1) return words[0]!;
  return `one of ${words.slice(0, -1).join(', ')} or ${words[words.length - 1]}`;
}

function rangeText(noun: string, min: number | undefined, max: number | undefined): string {
  if (min !== undefined && max !== undefined) return `${noun} from ${min} to ${max}`;
  if (min !== undefined) return `${noun} of at least ${min}`;
  if (max !== undefined) return `${noun} of at most ${max}`;
  return noun;
}

function pluralOf(schema: Schema): string {
  if (schema.expected) return schema.expected.replace(/^(a|an) /, '');
  switch (schema.kind) {
    case 'string':
      return 'strings';
    case 'integer':
      return 'integers';
    case 'number':
      return 'numbers';
    case 'boolean':
      return 'booleans';
    case 'object':
      return 'mappings';
    case 'list':
      return 'lists';
    default:
      return expectedOf(schema).replace(/^(a|an) /, '');
  }
}

/** What a node is, briefly: `a string`, `a list`, `the number 5`, `nothing`. */
export function foundOf(node: unknown): string {
  if (node === null || node === undefined) return 'nothing';
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isAlias(node)) return 'an alias';
  if (isScalar(node)) return foundValue(node.value);
  return 'something else';
}

/** What a scalar value is, with the value when it is short. */
export function foundValue(value: unknown): string {
  if (value === null || value === undefined) return 'nothing (an empty value)';
  if (typeof value === 'string') return value.length <= 40 ? `the string ${JSON.stringify(value)}` : 'a string';
  if (typeof value === 'number') return `the number ${value}`;
  if (typeof value === 'boolean') return `the boolean ${value}`;
  return `a ${typeof value}`;
}

/** A value quoted for a message, cut when long. */
export function quote(value: unknown): string {
  const text = typeof value === 'string' ? value : String(value);
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 57)}...` : text);
}
