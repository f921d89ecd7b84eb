/**
 * A schema described as data: what a YAML document may contain, key by key. One description
 * drives three things — the located walker (problems with line:col and path), the typed value
 * it returns, and the JSON Schema an editor reads — so they can never disagree.
 */

/** How a value that is not quite the right scalar type is treated (`8080` where text is expected). */
export type Coercion = 'warn' | 'silent' | 'never';

/** Reports problems about the value being read, located at its node. */
export interface ValueReporter {
  error(message: string): void;
  warn(message: string): void;
}

/** What a custom scalar reader receives: the YAML value and the exact source text. */
export interface ScalarInput {
  /** string, number, boolean or null, as YAML 1.2 core read it. */
  value: unknown;
  /** The scalar as written in the document (quotes included), e.g. `0644` or `"0644"`. */
  source: string;
}

/** Reports problems inside an object, located at one of its keys' values (or the object). */
export interface RefineContext {
  error(key: string | undefined, message: string): void;
  warn(key: string | undefined, message: string): void;
  /** The path of a key of this object, e.g. `write_files[2].content`. */
  path(key?: string): string;
  /** The key was written in the document (even when its value was invalid and left out). */
  given(key: string): boolean;
  /** How many items the list written at `key` has (invalid ones included); undefined when it is not a list. */
  itemCount(key: string): number | undefined;
  /**
   * One value per walk for `key`, made by `init` on first use: what the refine rules of one document
   * share, such as a cache of decoded file contents (an aliased node is refined once per use) and budgets.
   */
  shared<T>(key: object, init: () => T): T;
  /** Reports deeper inside this object, e.g. `['specs', 2, 'name']`; located at the deepest node found. */
  at(keys: readonly (string | number)[], severity: 'error' | 'warning', message: string): void;
}

interface Common {
  /** Shown in JSON Schema and used in messages. */
  description?: string;
  /** Noun phrase for "expected …" messages, e.g. `a list of group names`. */
  expected?: string;
}

export interface StringSchema extends Common {
  kind: 'string';
  /** Numbers and booleans where text is expected: default `warn` (the text is used). */
  coerce?: Coercion;
  minLength?: number;
  maxLength?: number;
  pattern?: RegExp;
  /** What the pattern means, for messages: `an absolute path`. */
  patternText?: string;
  /** Extra rule; returns the problem text (`expected …, found …`) or undefined. */
  check?: (value: string) => string | undefined;
  /** JSON Schema `format` hint. */
  format?: string;
}

export interface NumberSchema extends Common {
  kind: 'integer' | 'number';
  minimum?: number;
  maximum?: number;
  /** Quoted numbers (`"5"`): default `warn`. */
  coerce?: Coercion;
}

export interface BooleanSchema extends Common {
  kind: 'boolean';
  /** `"true"`, `yes`, `on`… (YAML 1.1 spellings): default `warn`. */
  coerce?: Coercion;
}

export interface EnumSchema extends Common {
  kind: 'enum';
  values: readonly (string | number | boolean)[];
}

export interface ListSchema extends Common {
  kind: 'list';
  items: Schema;
  minItems?: number;
  /** A lone scalar where a list is expected becomes a one-item list (with a warning). */
  acceptSingle?: boolean;
}

export interface Field {
  schema: Schema;
  required?: boolean;
  /** Why the key is deprecated and what happens now; reported as a warning. */
  deprecated?: string;
  /** Deprecated and dropped: its value is not validated nor returned. */
  ignored?: boolean;
  description?: string;
}

export interface ObjectSchema extends Common {
  kind: 'object';
  fields: Record<string, Field>;
  /** Schema of keys not in `fields` (a free map when `fields` is empty); unknown keys warn when absent. */
  additional?: Schema;
  /** `-` and `_` in key names are the same (default true); canonical names use `_`. */
  normalizeKeys?: boolean;
  /** Rule for free keys, e.g. environment variable names. */
  keyPattern?: RegExp;
  keyPatternText?: string;
  /** Cross-key rules and the typed value of the object; receives only the valid fields. */
  refine?: (value: Record<string, unknown>, ctx: RefineContext) => unknown;
}

export interface UnionSchema extends Common {
  kind: 'union';
  /** Tried by the node's shape: a mapping picks the object option, a list the list option, a scalar the scalar options in order. */
  options: Schema[];
}

export interface CustomSchema extends Common {
  kind: 'custom';
  /** A scalar type with its own reading: octal modes, durations, ports… */
  read: (input: ScalarInput, report: ValueReporter) => unknown;
  jsonSchema: Record<string, unknown>;
}

export interface AnySchema extends Common {
  kind: 'any';
}

export type Schema = StringSchema | NumberSchema | BooleanSchema | EnumSchema | ListSchema | ObjectSchema | UnionSchema | CustomSchema | AnySchema;

/** Builders, so a schema reads like the document it describes. */
export const s = {
  string: (o: Omit<StringSchema, 'kind'> = {}): StringSchema => ({ kind: 'string', ...o }),
  integer: (o: Omit<NumberSchema, 'kind'> = {}): NumberSchema => ({ kind: 'integer', ...o }),
  number: (o: Omit<NumberSchema, 'kind'> = {}): NumberSchema => ({ kind: 'number', ...o }),
  boolean: (o: Omit<BooleanSchema, 'kind'> = {}): BooleanSchema => ({ kind: 'boolean', ...o }),
  enum: (values: readonly (string | number | boolean)[], o: Omit<EnumSchema, 'kind' | 'values'> = {}): EnumSchema => ({ kind: 'enum', values, ...o }),
  list: (items: Schema, o: Omit<ListSchema, 'kind' | 'items'> = {}): ListSchema => ({ kind: 'list', items, ...o }),
  object: (fields: Record<string, Field | Schema>, o: Omit<ObjectSchema, 'kind' | 'fields'> = {}): ObjectSchema => ({
    kind: 'object',
    fields: Object.fromEntries(Object.entries(fields).map(([k, f]) => [k, 'schema' in f ? f : { schema: f }])),
    ...o,
  }),
  map: (values: Schema, o: Omit<ObjectSchema, 'kind' | 'fields' | 'additional'> = {}): ObjectSchema => ({ kind: 'object', fields: {}, additional: values, ...o }),
  union: (options: Schema[], o: Omit<UnionSchema, 'kind' | 'options'> = {}): UnionSchema => ({ kind: 'union', options, ...o }),
  custom: (o: Omit<CustomSchema, 'kind'>): CustomSchema => ({ kind: 'custom', ...o }),
  any: (o: Omit<AnySchema, 'kind'> = {}): AnySchema => ({ kind: 'any', ...o }),
  required: (schema: Schema, o: Omit<Field, 'schema' | 'required'> = {}): Field => ({ schema, required: true, ...o }),
  deprecated: (schema: Schema, why: string, o: Omit<Field, 'schema' | 'deprecated'> = {}): Field => ({ schema, deprecated: why, ...o }),
};
