/**
 * Scalar formats that plain YAML types do not carry: octal file modes and durations. Each is a
 * custom schema (a reader plus its JSON Schema), so any keel schema can use them.
 */
import { durationPattern, durationText, durationValueMs, formatDuration } from '../duration.js';
import { quote } from './describe.js';
import { s, type CustomSchema } from './types.js';

/** The grammar itself lives at the root so every part can read durations without importing the schema. */
export { formatDuration, parseDurationMs } from '../duration.js';

/**
 * A duration string in the grammar of src/duration.ts, or a YAML number of seconds, read as
 * milliseconds; `minMs`/`maxMs` bound it. The parts that read the written value back use
 * the same grammar, so what validates here is what they accept.
 */
export function duration(o: { minMs?: number; maxMs?: number; description?: string } = {}): CustomSchema {
  return s.custom({
    expected: durationText,
    ...(o.description ? { description: o.description } : {}),
    jsonSchema: { anyOf: [{ type: 'string', pattern: durationPattern }, { type: 'number', minimum: 0 }] },
    read({ value }, r) {
      // A quoted "90" stays refused: in YAML a string has no unit, a number is seconds.
      const ms = durationValueMs(value, typeof value === 'number' ? { bare: 'seconds' } : {});
      if (ms === undefined) return r.error(`expected ${durationText}, found ${quote(value)}`);
      if (o.minMs !== undefined && ms < o.minMs) return r.error(`expected a duration of at least ${formatDuration(o.minMs)}, found ${quote(value)}`);
      if (o.maxMs !== undefined && ms > o.maxMs) return r.error(`expected a duration of at most ${formatDuration(o.maxMs)}, found ${quote(value)}`);
      return ms;
    },
  });
}

const modeText = 'an octal mode such as "0644"';

/**
 * A file mode: an octal string (`"0644"`, `"644"`, `"0o644"`) → number. An unquoted YAML
 * integer is read by its digits as octal (what YAML 1.1 readers like cloud-init's do for
 * `0644`), with a warning that says so, because YAML 1.2 would read `0644` as decimal 644.
 */
export function octalMode(o: { description?: string } = {}): CustomSchema {
  return s.custom({
    expected: modeText,
    ...(o.description ? { description: o.description } : {}),
    jsonSchema: { anyOf: [{ type: 'string', pattern: '^(0o|0)?[0-7]{1,4}$' }, { type: 'integer', minimum: 0 }] },
    read({ value, source }, r) {
      if (typeof value === 'string') {
        const m = /^(?:0o|0)?([0-7]{1,4})$/.exec(value.trim());
        if (!m) return r.error(`expected ${modeText}, found ${quote(value)}`);
        return parseInt(m[1]!, 8);
      }
      if (typeof value === 'number') {
        const text = source.trim();
        if (/^0o[0-7]{1,4}$/.test(text)) return value;
        const m = /^0*([0-7]{1,4})$/.exec(text);
        if (!m) return r.error(`expected ${modeText}, found the number ${text}`);
        const mode = parseInt(m[1]!, 8);
        r.warn(`read the integer ${text} as octal mode 0${m[1]!.padStart(3, '0')}; quote it ("0${m[1]!.padStart(3, '0')}") to say so`);
        return mode;
      }
      return r.error(`expected ${modeText}, found ${quote(value)}`);
    },
  });
}
