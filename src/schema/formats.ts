/**
 * Scalar formats that plain YAML types do not carry: octal file modes and durations. Each is a
 * custom schema (a reader plus its JSON Schema), so any keel schema can use them.
 */
import { quote } from './describe.js';
import { s, type CustomSchema } from './types.js';

const durationUnitsMs: Record<string, number> = { ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000 };

/** Go-style durations (`90s`, `1h30m`, `500ms`, also `d` for days) → milliseconds; undefined when not one. */
export function parseDurationMs(text: string): number | undefined {
  const t = text.trim();
  if (t === '' || t === '0') return t === '0' ? 0 : undefined;
  let total = 0;
  let rest = t;
  while (rest !== '') {
    const m = /^(\d+(?:\.\d+)?)(ms|min|s|m|h|d)/.exec(rest);
    if (!m) return undefined;
    total += Number(m[1]) * durationUnitsMs[m[2]!]!;
    rest = rest.slice(m[0].length);
  }
  return total;
}

const durationText = 'a duration such as 90s, 10m or 1h30m';

/** A duration string (or a number of seconds) read as milliseconds; `min`/`max` bound it. */
export function duration(o: { minMs?: number; maxMs?: number; description?: string } = {}): CustomSchema {
  return s.custom({
    expected: durationText,
    ...(o.description ? { description: o.description } : {}),
    jsonSchema: { anyOf: [{ type: 'string', pattern: '^(\\d+(\\.\\d+)?(ms|min|s|m|h|d))+$|^0$' }, { type: 'number', minimum: 0 }] },
    read({ value }, r) {
      const ms = typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value * 1000 : typeof value === 'string' ? parseDurationMs(value) : undefined;
      if (ms === undefined) return r.error(`expected ${durationText}, found ${quote(value)}`);
      if (o.minMs !== undefined && ms < o.minMs) return r.error(`expected a duration of at least ${formatDuration(o.minMs)}, found ${quote(value)}`);
      if (o.maxMs !== undefined && ms > o.maxMs) return r.error(`expected a duration of at most ${formatDuration(o.maxMs)}, found ${quote(value)}`);
      return ms;
    },
  });
}

/** Milliseconds back to the short form (`1h30m`, `500ms`), for messages. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let rest = ms;
  let out = '';
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000], ['ms', 1]] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * size;
  }
  return out;
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
