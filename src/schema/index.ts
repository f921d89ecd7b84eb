/**
 * keel's located-schema toolkit: describe a YAML document as data, get back a typed value and
 * every problem as `{ severity, path, line, column, message }`, and the same description as
 * JSON Schema for editors. Pure: no I/O, no clock.
 *
 * Describing (types.ts, builders in `s`):
 *   const spec = s.object({
 *     name: s.required(s.string({ minLength: 1 })),
 *     mode: octalMode(),                          // "0644", 0644 (with a warning), "0o644"
 *     every: duration({ minMs: 1000 }),           // "90s", "1h30m" → milliseconds
 *     groups: s.list(s.string(), { expected: 'a list of group names' }),
 *     old_key: s.deprecated(s.any(), 'old_key is gone; ignoring it', { ignored: true }),
 *   }, { refine: (v, ctx) => ({ ...v }) });       // cross-key rules; returns the typed value
 * refine's context reports at a key (`ctx.error(key, msg)`), deeper (`ctx.at(['specs', 2, 'name'],
 * 'error', msg)`), and tells whether a key was written even if invalid (`ctx.given(key)`).
 * Kinds: string, integer, number, boolean, enum, list, object (fields and/or `additional` for
 * free maps; `keyPattern`), union (picked by node shape), custom (a scalar reader + its JSON
 * Schema), any. Keys: `-` and `_` are one key (canonical `_`) unless `normalizeKeys: false`.
 *
 * Reading: `readYaml(schema, text)` → `{ value, problems }` (value only when no error).
 *   Lower level: `parseYaml` (size cap 1 MiB and 80,000 tokens, nesting depth 100, alias expansion 200,000 nodes,
 *   syntax errors, undefined aliases) and `walkNode`.
 * Problems: wrong types anywhere (`users[1].groups[0]`), values outside a set, duplicate keys
 *   (after `-`/`_` folding) and missing required keys are errors; unknown keys (with "did you
 *   mean" for near misses), deprecated keys, empty values and type coercions are warnings.
 * JSON Schema: `toJsonSchema(schema, { id, title })` (draft 2020-12).
 */
export * from './types.js';
export { expectedOf, foundOf, foundValue, quote, oneOfText } from './describe.js';
export { editDistance, nearMiss } from './near-miss.js';
export { parseYaml, defaultMaxYamlBytes, defaultMaxYamlDepth, defaultMaxYamlNodes, defaultMaxYamlTokens, type ParseOptions, type Parsed } from './parse.js';
export { AliasIndex } from './alias-index.js';
export { walkNode, childPath, type WalkOptions, type WalkResult, type WalkSource } from './walk.js';
export { readYaml, type ReadResult } from './read-document.js';
export { duration, octalMode, parseDurationMs, formatDuration } from './formats.js';
export { toJsonSchema, type JsonSchema } from './json-schema.js';
export { absolutePath, text, nonEmpty, url, urlList, hostname, timezone, accountName } from './common-fields.js';
