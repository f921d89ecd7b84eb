/**
 * JSON Schema (draft 2020-12) from a schema description, for editors (yaml-language-server and
 * the like). Keys are offered in their canonical `_` spelling and, where they contain `_`, their
 * `-` spelling too, since both are read. Cross-key rules (refine) cannot be expressed and are left
 * to `keel … validate`.
 */
import type { Field, Schema } from './types.js';

export type JsonSchema = Record<string, unknown>;

/** The whole document's JSON Schema with `$schema`, `$id` and `title`. */
export function toJsonSchema(schema: Schema, meta: { id?: string; title?: string } = {}): JsonSchema {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    ...(meta.id ? { $id: meta.id } : {}),
    ...(meta.title ? { title: meta.title } : {}),
    ...convert(schema),
  };
}

function convert(schema: Schema): JsonSchema {
  const d = schema.description ? { description: schema.description } : {};
  switch (schema.kind) {
    case 'string':
      return {
        type: 'string',
        ...d,
        ...(schema.minLength !== undefined ? { minLength: schema.minLength } : {}),
        ...(schema.maxLength !== undefined ? { maxLength: schema.maxLength } : {}),
        ...(schema.pattern ? { pattern: patternOf(schema.pattern) } : {}),
        ...(schema.format ? { format: schema.format } : {}),
      };
    case 'integer':
    case 'number':
      return {
        type: schema.kind,
        ...d,
        ...(schema.minimum !== undefined ? { minimum: schema.minimum } : {}),
        ...(schema.maximum !== undefined ? { maximum: schema.maximum } : {}),
      };
    case 'boolean':
      return { type: 'boolean', ...d };
    case 'enum':
      return { enum: [...schema.values], ...d };
    case 'list':
      return {
        type: 'array',
        ...d,
        items: convert(schema.items),
        ...(schema.minItems !== undefined ? { minItems: schema.minItems } : {}),
      };
    case 'object': {
      const properties: Record<string, JsonSchema> = {};
      const normalize = schema.normalizeKeys !== false;
      for (const [name, field] of Object.entries(schema.fields)) {
        properties[name] = fieldSchema(field);
        if (normalize && name.includes('_')) properties[name.replace(/_/g, '-')] = { ...fieldSchema(field), description: `same as ${name}` };
      }
      const required = Object.entries(schema.fields)
        .filter(([, f]) => f.required)
        .map(([n]) => n);
      return {
        type: 'object',
        ...d,
        ...(Object.keys(properties).length > 0 ? { properties } : {}),
        ...(required.length > 0 ? { required } : {}),
        ...(schema.additional
          ? schema.keyPattern
            ? { patternProperties: { [patternOf(schema.keyPattern)]: convert(schema.additional) }, additionalProperties: false }
            : { additionalProperties: convert(schema.additional) }
          : { additionalProperties: false }),
      };
    }
    case 'union':
      return { anyOf: schema.options.map(convert), ...d };
    case 'custom':
      return { ...schema.jsonSchema, ...d };
    case 'any':
      return { ...d };
  }
}

/**
 * A RegExp as a JSON Schema pattern. JSON Schema has no flags, so a case-insensitive pattern is
 * spelt out: `a` becomes `[aA]`, and a class `[a-z]` becomes `[a-zA-Z]`.
 */
export function patternOf(re: RegExp): string {
  if (!re.flags.includes('i')) return re.source;
  const src = re.source;
  let out = '';
  let inClass = false;
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c === '\\') {
      out += c + (src[i + 1] ?? '');
      i++;
    } else if (inClass) {
      if (c === ']') inClass = false;
      else if (/[a-z]/i.test(c) && src[i + 1] === '-' && /[a-z]/i.test(src[i + 2] ?? '')) {
        const end = src[i + 2]!;
        out += `${c.toLowerCase()}-${end.toLowerCase()}${c.toUpperCase()}-${end.toUpperCase()}`;
        i += 2;
        continue;
      } else if (/[a-z]/i.test(c)) {
        out += c.toLowerCase() + c.toUpperCase();
        continue;
      }
      out += c;
    } else if (c === '[') {
      inClass = true;
      out += c;
    } else if (/[a-z]/i.test(c) && !(i > 0 && src[i - 1] === '{')) {
      out += `[${c.toLowerCase()}${c.toUpperCase()}]`;
    } else out += c;
  }
  return out;
}

function fieldSchema(field: Field): JsonSchema {
  const base = convert(field.schema);
  return {
    ...base,
    ...(field.description ? { description: field.description } : {}),
    ...(field.deprecated ? { deprecated: true, description: field.deprecated } : {}),
  };
}
