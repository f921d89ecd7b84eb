/**
 * keel's one duration grammar, for every part: cloud-config's schema, update.conf and
 * lock.conf, supervisor.yaml and the command-line flags all read durations here, so a
 * value one part accepts is never refused by the part that reads it next.
 *
 * The grammar is Go's (`1h30m`, `90s`, `500ms`, `1.5h`) plus `min` for minutes and `d` for
 * days: one or more `<number><unit>` terms with no spaces, units ms, s, m, min, h, d; and
 * `0` alone. A bare number is not a duration unless the caller says what its unit is
 * (`bare: 'seconds'` for flags and YAML numbers, `'minutes'` for update.conf's
 * CHECK_INTERVAL). Pure; no part imports another to read a duration.
 */
import { KeelError } from './errors.js';

const unitMs: Record<string, number> = { ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000 };

/** The unit of a bare number, where a caller allows one. */
export type BareUnit = 'seconds' | 'minutes';

export interface DurationOptions {
  /** What a bare number (`90`, `1.5`) means; without it a bare number other than 0 is refused. */
  bare?: BareUnit;
}

/**
 * The longest duration keel waits on with one timer. Node's timers hold at most 2^31-1 ms
 * (24.8 days) and fire a longer one after 1 ms, so a health check every 30d would probe
 * without pause; a value that becomes a timer is bounded where it is read, at a round 24 days.
 */
export const longestTimerMs = 24 * 86_400_000;

/** The words every duration message uses for what was expected. */
export const durationText = 'a duration such as 90s, 10m or 1h30m';

/** The JSON Schema pattern of a duration string (no bare numbers but 0). */
export const durationPattern = '^(\\d+(\\.\\d+)?(ms|min|s|m|h|d))+$|^0$';

const bareMs: Record<BareUnit, number> = { seconds: 1000, minutes: 60_000 };

/** Milliseconds in `text` (whole, rounded), or undefined when it is not a duration. */
export function parseDurationMs(text: string, options: DurationOptions = {}): number | undefined {
  const t = text.trim();
  if (t === '0') return 0;
  if (/^\d+(\.\d+)?$/.test(t)) return options.bare ? finite(Number(t) * bareMs[options.bare]) : undefined;
  if (t === '') return undefined;
  let total = 0;
  let rest = t;
  while (rest !== '') {
    // `ms` and `min` before `m`, so `5ms` and `5min` are not read as minutes plus a stray letter.
    const m = /^(\d+(?:\.\d+)?)(ms|min|s|m|h|d)/.exec(rest);
    if (!m) return undefined;
    total += Number(m[1]) * unitMs[m[2]!]!;
    rest = rest.slice(m[0].length);
  }
  return finite(total);
}

/** A YAML or JSON value as a duration: a string in the grammar, or a number in the caller's bare unit. */
export function durationValueMs(value: unknown, options: DurationOptions = {}): number | undefined {
  if (typeof value === 'string') return parseDurationMs(value, options);
  if (typeof value === 'number' && options.bare && Number.isFinite(value) && value >= 0) return finite(value * bareMs[options.bare]);
  return undefined;
}

/**
 * Milliseconds in `text`, or a KeelError('invalid-input') that starts with `where` (a flag,
 * or a file and key such as `/etc/keel/lock.conf: WINDOW_LENGTH`); over `maxMs` is refused too.
 */
export function readDurationMs(text: string, where: string, options: DurationOptions & { maxMs?: number } = {}): number {
  const ms = parseDurationMs(text, options);
  if (ms === undefined) throw new KeelError('invalid-input', `${where}: expected ${durationText}${bareNote(options)}, found ${JSON.stringify(text)}`);
  if (options.maxMs !== undefined && ms > options.maxMs) throw new KeelError('invalid-input', `${where}: expected a duration of at most ${formatDuration(options.maxMs)}, found ${JSON.stringify(text)}`);
  return ms;
}

function bareNote(options: DurationOptions): string {
  return options.bare ? ` (or a number of ${options.bare})` : '';
}

/** Rounds to whole milliseconds; a number too large to hold is not a duration. */
function finite(ms: number): number | undefined {
  return Number.isFinite(ms) ? Math.round(ms) : undefined;
}

/** Milliseconds in the grammar's exact short form (`1h30m`, `500ms`, `0s`), for messages and files. */
export function formatDuration(ms: number): string {
  if (ms <= 0) return '0s';
  let rest = Math.round(ms);
  let out = '';
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000], ['ms', 1]] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * size;
  }
  return out;
}

/** An elapsed time rounded to its two largest units, for people: `2h05m`, `3m12s`, `850ms`. */
export function formatElapsedMs(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d${String(h % 24).padStart(2, '0')}h`;
}

/** Seconds as a systemd time span: whole seconds as `Ns`, anything finer as `Nms`. */
export function formatSystemdSpan(seconds: number): string {
  const ms = Math.round(seconds * 1000);
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
