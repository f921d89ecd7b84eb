/**
 * Scalar shapes that any keel document shares: paths, names, host names, URLs, time zones.
 * Each is a schema value, so it validates, types and documents itself.
 */
import { s } from './types.js';

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
