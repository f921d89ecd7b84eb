/**
 * Scalar shapes shared by the cloud-config schema sections: paths, names, URLs, windows.
 * Each is a schema value (src/schema), so it validates, types and documents itself.
 */
import { parseDurationMs, s, type RefineContext } from '../schema/index.js';

/** An absolute path without `..` segments. */
export const absolutePath = s.string({
  expected: 'an absolute path',
  check: (p) =>
    !p.startsWith('/') ? `expected an absolute path, found the relative path ${JSON.stringify(p)}` : p.split('/').includes('..') ? `expected a path without '..', found ${JSON.stringify(p)}` : undefined,
});

/** A non-empty string, read as text even when YAML typed it as a number (etcd flags, versions). */
export const text = s.string({ coerce: 'silent' });

export const nonEmpty = s.string({ minLength: 1, expected: 'a non-empty string' });

export const url = s.string({ pattern: /^[a-z][a-z0-9+.-]*:\/\/\S+$/i, patternText: 'a URL such as http://10.0.0.1:2379' });

export const urlList = s.list(url, { expected: 'a list of URLs', acceptSingle: true });

/** A host name (RFC 1123 labels, at most 253 characters). */
export const hostname = s.string({
  expected: 'a host name of letters, digits, - and .',
  check: (h) =>
    h.length <= 253 && h.split('.').every((l) => /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(l))
      ? undefined
      : `expected a host name of dot-separated labels of letters, digits and - (at most 63 each), found ${JSON.stringify(h)}`,
});

/** `UTC`, `Etc/GMT+2`, `Area/City[/Sub]` or one of the tz database's few one-word zones. */
export const timezone = s.string({
  pattern: /^(UTC|UCT|GMT|Zulu|Universal|Greenwich|CET|EET|WET|MET|EST|MST|HST|EST5EDT|CST6CDT|MST7MDT|PST8PDT|Etc\/[A-Za-z0-9+-]+|[A-Z][A-Za-z_-]+(\/[A-Za-z0-9_+-]+){1,2})$/,
  patternText: 'a time zone such as UTC or Europe/Berlin',
});

/** A user or group name as useradd takes it. */
export const accountName = s.string({ pattern: /^[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?$/, patternText: 'a user name of letters, digits, _, . and - (at most 32)' });

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
