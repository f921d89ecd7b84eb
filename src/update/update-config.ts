import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describeJson } from './json-shape.js';
import { KeelError } from '../errors.js';
import { parseEnvFile } from '../systemd/env-file.js';
import type { RebootStrategy } from './update-settings.js';
import { locksmithWindow, weeklyWindow, durationMinutes, type Window } from './maintenance-window.js';

/**
 * The agent's settings. Sources, lowest first: /usr/lib/keel/update.conf (the image's
 * defaults), /etc/keel/update.conf (written by cloud-config from `coreos.update`,
 * `coreos.locksmith` and `keel.update`), /run/keel/update.conf (runtime overrides). Each is
 * an env-file (`KEY=value`, `#` comments, optional quotes); later files win key by key.
 * Parsing and validation are pure; only `loadUpdateConfig` reads files.
 */
export interface UpdateConfig {
  strategy: RebootStrategy;
  group: string;
  channel: string;
  /** Repository URL or directory; absent = the agent does not check. */
  server?: string;
  trustKey: string;
  checkIntervalMs: number;
  windows: Window[];
  postponeWhileLoggedIn: boolean;
  /** Bound on postponements for logged-in users (Zincati: 10 × 60 s). */
  maxPostponements: number;
  rolloutWariness?: number;
  /** Reboots of a failing trial slot before the agent stops (its tries run out first). */
  maxUnhealthyReboots: number;
  /** Failed download attempts of one release before giving up until the next check. */
  maxDownloadAttempts: number;
}

export const configSources = ['usr/lib/keel/update.conf', 'etc/keel/update.conf', 'run/keel/update.conf'];

const strategies: RebootStrategy[] = ['etcd-lock', 'reboot', 'best-effort', 'off'];

/** Parses an env-file (the shared parser of src/systemd/env-file.ts) with upper-cased keys. */
export function parseUpdateConf(text: string): Record<string, string> {
  return Object.fromEntries(Object.entries(parseEnvFile(text)).map(([k, v]) => [k.toUpperCase(), v]));
}

/** Turns merged key/values into settings, collecting every problem into one error. */
export function updateConfigOf(values: Record<string, string>): UpdateConfig {
  const problems: string[] = [];
  const strategy = (values.REBOOT_STRATEGY || 'best-effort') as RebootStrategy;
  if (!strategies.includes(strategy)) problems.push(`REBOOT_STRATEGY: expected one of ${strategies.join(', ')}, found '${strategy}'`);
  const number = (key: string, fallback: number, min: number, max: number): number => {
    const v = values[key];
    if (v === undefined || v === '') return fallback;
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max) {
      problems.push(`${key}: expected a number from ${min} to ${max}, found '${v}'`);
      return fallback;
    }
    return n;
  };
  const timeZone = values.TIME_ZONE || 'UTC';
  const windows: Window[] = [];
  try {
    if (values.WINDOW_START || values.WINDOW_LENGTH) {
      if (!values.WINDOW_START || !values.WINDOW_LENGTH) problems.push('WINDOW_START and WINDOW_LENGTH: expected both or neither');
      else windows.push(locksmithWindow(values.WINDOW_START, values.WINDOW_LENGTH, timeZone));
    }
    if (values.WINDOWS) windows.push(...(/^\d+$/.test(values.WINDOWS) ? numberedWindows(values, Number(values.WINDOWS)) : windowsOfJson(values.WINDOWS, timeZone)));
  } catch (error) {
    problems.push((error as Error).message);
  }
  const check = values.CHECK_INTERVAL_MINUTES ?? values.CHECK_INTERVAL;
  let checkIntervalMs = 300_000;
  if (check) {
    try {
      checkIntervalMs = (/^\d+$/.test(check) ? Number(check) : durationMinutes(check)) * 60_000;
    } catch {
      problems.push(`CHECK_INTERVAL: expected minutes or a duration like 5m, found '${check}'`);
    }
  }
  const wariness = values.ROLLOUT_WARINESS ? number('ROLLOUT_WARINESS', 0, 0, 1) : undefined;
  const config: UpdateConfig = {
    strategy,
    group: values.GROUP || 'default',
    channel: values.CHANNEL || values.GROUP || 'stable',
    trustKey: values.TRUST_KEY || '/usr/lib/keel/update-trust.pub',
    checkIntervalMs,
    windows,
    postponeWhileLoggedIn: /^(1|true|yes|on)$/i.test(values.POSTPONE_WHILE_LOGGED_IN ?? 'true'),
    maxPostponements: number('MAX_POSTPONEMENTS', 10, 0, 1000),
    maxUnhealthyReboots: number('MAX_UNHEALTHY_REBOOTS', 3, 0, 20),
    maxDownloadAttempts: number('MAX_DOWNLOAD_ATTEMPTS', 5, 1, 100),
  };
  if (values.SERVER) config.server = values.SERVER;
  if (wariness !== undefined) config.rolloutWariness = wariness;
  if (problems.length) throw new KeelError('invalid-input', `update.conf: ${problems.join('; ')}; the agent keeps its previous settings`);
  return config;
}

/** cloud-config's form (src/cloudconfig/plan-settings.ts): WINDOWS=N, WINDOW_<n>_DAYS|START|LENGTH_MINUTES|TIME_ZONE. */
function numberedWindows(values: Record<string, string>, count: number): Window[] {
  const out: Window[] = [];
  for (let n = 1; n <= count; n++) {
    const days = (values[`WINDOW_${n}_DAYS`] ?? '').split(',').map((d) => d.trim()).filter(Boolean);
    out.push(weeklyWindow(days, values[`WINDOW_${n}_START`] ?? '', Number(values[`WINDOW_${n}_LENGTH_MINUTES`]), values[`WINDOW_${n}_TIME_ZONE`] || 'UTC'));
  }
  return out;
}

function windowsOfJson(text: string, timeZone: string): Window[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new KeelError('invalid-input', `WINDOWS: expected a JSON list of {days, start, lengthMinutes, timeZone}, found '${text}'`, { cause: error });
  }
  if (!Array.isArray(parsed)) throw new KeelError('invalid-input', `WINDOWS: expected a JSON list of {days, start, lengthMinutes, timeZone}, found ${describeJson(parsed)}`);
  return parsed.map((w: unknown, i) => {
    if (typeof w !== 'object' || w === null || Array.isArray(w))
      throw new KeelError('invalid-input', `WINDOWS[${i}]: expected an object {days, start, lengthMinutes, timeZone}, found ${describeJson(w)}`);
    return windowOfJson(w as Record<string, unknown>, timeZone);
  });
}

function windowOfJson(w: Record<string, unknown>, timeZone: string): Window {
  const length = typeof w.lengthMinutes === 'number' ? w.lengthMinutes : typeof w.length === 'string' ? durationMinutes(w.length) : typeof w.length_minutes === 'number' ? w.length_minutes : NaN;
  return weeklyWindow(Array.isArray(w.days) ? w.days.map(String) : [], String(w.start ?? w.start_time ?? ''), length, String(w.timeZone ?? w.time_zone ?? timeZone));
}

/**
 * Reads and merges the three sources under `root`. `coreos.locksmith`'s window lands in
 * /etc/keel/lock.conf, so its WINDOW_START/WINDOW_LENGTH are the lowest layer.
 */
export async function loadUpdateConfig(root: string): Promise<UpdateConfig> {
  let merged: Record<string, string> = {};
  const lockText = await readFile(join(root, 'etc/keel/lock.conf'), 'utf8').catch(() => undefined);
  if (lockText !== undefined) {
    const lock = parseUpdateConf(lockText);
    for (const key of ['WINDOW_START', 'WINDOW_LENGTH']) if (lock[key]) merged[key] = lock[key];
  }
  for (const source of configSources) {
    const text = await readFile(join(root, source), 'utf8').catch(() => undefined);
    if (text !== undefined) merged = { ...merged, ...parseUpdateConf(text) };
  }
  return updateConfigOf(merged);
}
