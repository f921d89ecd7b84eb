/**
 * Scalar shapes of the cloud-config's update and lock sections: maintenance windows.
 * Each is a schema value (src/schema), so it validates, types and documents itself.
 */
import { parseDurationMs } from '../duration.js';
import { s, type RefineContext } from '../schema/index.js';

export const dayNames = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
const dayPattern = '(sun|mon|tue|wed|thu|fri|sat)[a-z]*';

/** locksmith's window start: `[Day ]HH:MM`, e.g. `Thu 23:00` or `04:00`. */
export const windowStart = s.string({
  pattern: new RegExp(`^(${dayPattern} +)?([01]?\\d|2[0-3]):[0-5]\\d$`, 'i'),
  patternText: 'a window start such as "Thu 23:00" or "04:00"',
});

/** A window length as written: a duration string, kept as text in the model. */
export const windowLength = s.string({
  coerce: 'never',
  expected: 'a window length such as 1h30m',
  check: (v) => (parseDurationMs(v) === undefined || parseDurationMs(v) === 0 ? `expected a window length such as 1h30m, found ${JSON.stringify(v)}` : undefined),
});

/** Both-or-neither window rule and the length limit (under 1 day, or under 7 days when the start names a day). */
export function checkWindow(v: Record<string, unknown>, ctx: RefineContext, startKey = 'window_start', lengthKey = 'window_length'): void {
  const start = v[startKey] as string | undefined;
  const length = v[lengthKey] as string | undefined;
  // A key written with a bad value was already reported; do not also call it missing.
  if ((start === undefined && ctx.given(startKey)) || (length === undefined && ctx.given(lengthKey))) return;
  if ((start === undefined) !== (length === undefined)) {
    const [given, missing] = start === undefined ? [lengthKey, startKey] : [startKey, lengthKey];
    ctx.error(given, `${given} is set but ${missing} is not; expected both or neither`);
    return;
  }
  if (start === undefined || length === undefined) return;
  const withDay = /^[a-z]/i.test(start);
  const ms = parseDurationMs(length) ?? 0;
  const limitMs = (withDay ? 7 : 1) * 86_400_000;
  if (ms >= limitMs) ctx.error(lengthKey, `expected a window length under ${withDay ? '7 days (the start names a day)' : '24h (the start names no day)'}, found ${JSON.stringify(length)}`);
}
