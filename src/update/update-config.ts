import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describeJson } from './json-shape.js';
import { KeelError } from '../errors.js';
import { parseEnvFile } from '../systemd/env-file.js';
import type { RebootStrategy } from './update-settings.js';
import { locksmithWindow, weeklyWindow, type Window } from './maintenance-window.js';
import { durationText, parseDurationMs } from '../duration.js';
import { defaultRolloutPolicy, parseMaxFailures, type RolloutPolicy } from '../fleet/rollout-policy.js';
import { preRebootOf, type PreRebootChecks } from './pre-reboot.js';

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
  /** Tries of a slot's boot entry (new, or armed again after a good boot) before systemd-boot boots the other slot. */
  bootTries: number;
  /** Failed download attempts of one release before giving up until the next check. */
  maxDownloadAttempts: number;
  /** The rollout brake's policy (ROLLOUT_MAX_FAILURES, ROLLOUT_HEALTH_DEADLINE); used only with etcd. */
  rollout: RolloutPolicy;
  /** Checks that must pass before the agent asks for a reboot slot (PRE_REBOOT_*). */
  preReboot: PreRebootChecks;
  /** HOSTNAME_OVERRIDE: the hostname the node record shows instead of the machine's (several agents on one machine). */
  hostname?: string;
  /**
   * ALLOW_RELEASES_WITHOUT_VERITY: install releases whose signed metadata has no dm-verity root
   * hash (their entries boot with `keel.verity=off`). Default false: such releases are refused.
   */
  allowWithoutVerity: boolean;
}

export const configSources = ['usr/lib/keel/update.conf', 'etc/keel/update.conf', 'run/keel/update.conf'];

const strategies: RebootStrategy[] = ['etcd-lock', 'reboot', 'best-effort', 'off'];

/** Parses an env-file (the shared parser of src/systemd/env-file.ts) with upper-cased keys. */
export function parseUpdateConf(text: string): Record<string, string> {
  return Object.fromEntries(Object.entries(parseEnvFile(text)).map(([k, v]) => [k.toUpperCase(), v]));
}

/** The file each key was read from (a path), for messages; a key not listed came from update.conf. */
export type KeySources = Readonly<Record<string, string>>;

/** Turns merged key/values into settings, collecting every problem, each naming its file and key, into one error. */
export function updateConfigOf(values: Record<string, string>, sources: KeySources = {}): UpdateConfig {
  const problems: string[] = [];
  const fileOf = (key: string) => sources[key] ?? 'update.conf';
  const where = (key: string) => `${fileOf(key)}: ${key}`;
  const strategy = (values.REBOOT_STRATEGY || 'best-effort') as RebootStrategy;
  if (!strategies.includes(strategy)) problems.push(`${where('REBOOT_STRATEGY')}: expected one of ${strategies.join(', ')}, found '${strategy}'`);
  const number = (key: string, fallback: number, min: number, max: number): number => {
    const v = values[key];
    if (v === undefined || v === '') return fallback;
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max) {
      problems.push(`${where(key)}: expected a number from ${min} to ${max}, found '${v}'`);
      return fallback;
    }
    return n;
  };
  const windows = [...locksmithWindows(values, fileOf, problems)];
  if (values.WINDOWS) {
    try {
      windows.push(...(/^\d+$/.test(values.WINDOWS) ? numberedWindows(values, Number(values.WINDOWS)) : windowsOfJson(values.WINDOWS, values.TIME_ZONE || 'UTC')));
    } catch (error) {
      problems.push(`${fileOf('WINDOWS')}: ${(error as Error).message}`);
    }
  }
  const checkIntervalMs = checkInterval(values, where, problems);
  const wariness = values.ROLLOUT_WARINESS ? number('ROLLOUT_WARINESS', 0, 0, 1) : undefined;
  const bootTries = number('BOOT_TRIES', 3, 1, 10);
  const config: UpdateConfig = {
    strategy,
    group: values.GROUP || 'default',
    channel: values.CHANNEL || values.GROUP || 'stable',
    trustKey: values.TRUST_KEY || '/usr/lib/keel/update-trust.pub',
    checkIntervalMs,
    windows,
    postponeWhileLoggedIn: /^(1|true|yes|on)$/i.test(values.POSTPONE_WHILE_LOGGED_IN ?? 'true'),
    maxPostponements: number('MAX_POSTPONEMENTS', 10, 0, 1000),
    // By default as many reboots as the entry has tries: the last one brings the previous slot back.
    maxUnhealthyReboots: number('MAX_UNHEALTHY_REBOOTS', bootTries, 0, 20),
    bootTries,
    maxDownloadAttempts: number('MAX_DOWNLOAD_ATTEMPTS', 5, 1, 100),
    rollout: rolloutOf(values, where, problems),
    preReboot: preRebootOf(values, where, problems),
    allowWithoutVerity: flagOf(values, 'ALLOW_RELEASES_WITHOUT_VERITY', where, problems),
  };
  if (values.SERVER) config.server = values.SERVER;
  const hostname = hostnameOf(values, where, problems);
  if (hostname !== undefined) config.hostname = hostname;
  if (wariness !== undefined) config.rolloutWariness = wariness;
  if (problems.length) throw new KeelError('invalid-input', `${problems.join('; ')}; the agent keeps its previous settings`);
  return config;
}

/**
 * CHECK_INTERVAL is a duration (`90s`, `15m`, `1h`), the form cloud-config writes;
 * CHECK_INTERVAL_MINUTES, the form it wrote before, is still read. A bare number in either
 * is minutes, as it always was. The default is 5 minutes.
 */
function checkInterval(values: Record<string, string>, where: (key: string) => string, problems: string[]): number {
  const key = values.CHECK_INTERVAL ? 'CHECK_INTERVAL' : 'CHECK_INTERVAL_MINUTES';
  const text = values[key];
  if (!text) return 300_000;
  const ms = parseDurationMs(text, { bare: 'minutes' });
  if (ms !== undefined && ms > 0) return ms;
  problems.push(`${where(key)}: expected ${durationText} or a number of minutes, above zero, found '${text}'`);
  return 300_000;
}

/**
 * A yes/no key that widens trust: only an explicit true/yes/1/on enables it, only false/no/0/off
 * (or nothing) leaves it off, and anything else is a problem rather than a guess.
 */
function flagOf(values: Record<string, string>, key: string, where: (key: string) => string, problems: string[]): boolean {
  const text = values[key]?.trim() ?? '';
  if (/^(1|true|yes|on)$/i.test(text)) return true;
  if (text === '' || /^(0|false|no|off)$/i.test(text)) return false;
  problems.push(`${where(key)}: expected true or false, found '${text}'`);
  return false;
}

/** A hostname as DNS writes one (letters, digits, '.', '-', '_'; at most 253), for the node record. */
const hostnamePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/;

/** HOSTNAME_OVERRIDE, when set and well formed. */
function hostnameOf(values: Record<string, string>, where: (key: string) => string, problems: string[]): string | undefined {
  const text = values.HOSTNAME_OVERRIDE?.trim();
  if (!text) return undefined;
  if (hostnamePattern.test(text)) return text;
  problems.push(`${where('HOSTNAME_OVERRIDE')}: expected a hostname of at most 253 letters, digits, '.', '-' and '_', found ${JSON.stringify(text.slice(0, 80))}`);
  return undefined;
}

/** ROLLOUT_MAX_FAILURES (a count or a percentage) and ROLLOUT_HEALTH_DEADLINE (a duration); the defaults otherwise. */
function rolloutOf(values: Record<string, string>, where: (key: string) => string, problems: string[]): RolloutPolicy {
  let maxFailures = defaultRolloutPolicy.maxFailures;
  if (values.ROLLOUT_MAX_FAILURES) {
    try {
      maxFailures = parseMaxFailures(values.ROLLOUT_MAX_FAILURES, where('ROLLOUT_MAX_FAILURES'));
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  let healthDeadlineMs = defaultRolloutPolicy.healthDeadlineMs;
  const deadline = values.ROLLOUT_HEALTH_DEADLINE;
  if (deadline) {
    const ms = parseDurationMs(deadline);
    if (ms !== undefined && ms > 0) healthDeadlineMs = ms;
    else problems.push(`${where('ROLLOUT_HEALTH_DEADLINE')}: expected ${durationText}, above zero, found '${deadline}'`);
  }
  return { maxFailures, healthDeadlineMs };
}

/** locksmith's WINDOW_START and WINDOW_LENGTH (both or neither), which may come from lock.conf. */
function locksmithWindows(values: Record<string, string>, fileOf: (key: string) => string, problems: string[]): Window[] {
  const start = values.WINDOW_START;
  const length = values.WINDOW_LENGTH;
  if (!start && !length) return [];
  if (!start || !length) {
    const given = start ? 'WINDOW_START' : 'WINDOW_LENGTH';
    problems.push(`${fileOf(given)}: WINDOW_START and WINDOW_LENGTH: expected both or neither, found only ${given}`);
    return [];
  }
  if (parseDurationMs(length) === undefined) {
    problems.push(`${fileOf('WINDOW_LENGTH')}: WINDOW_LENGTH: expected ${durationText}, found '${length}'`);
    return [];
  }
  try {
    return [locksmithWindow(start, length, values.TIME_ZONE || 'UTC')];
  } catch (error) {
    const files = [...new Set([fileOf('WINDOW_START'), fileOf('WINDOW_LENGTH')])].join(' and ');
    problems.push(`${files}: WINDOW_START=${start} WINDOW_LENGTH=${length}: ${(error as Error).message}`);
    return [];
  }
}

/** cloud-config's form (src/cloudconfig/plan-settings.ts): WINDOWS=N, WINDOW_<n>_DAYS|START|LENGTH_MINUTES|TIME_ZONE. */
function numberedWindows(values: Record<string, string>, count: number): Window[] {
  const out: Window[] = [];
  for (let n = 1; n <= count; n++) {
    const days = (values[`WINDOW_${n}_DAYS`] ?? '').split(',').map((d) => d.trim()).filter(Boolean);
    try {
      out.push(weeklyWindow(days, values[`WINDOW_${n}_START`] ?? '', Number(values[`WINDOW_${n}_LENGTH_MINUTES`]), values[`WINDOW_${n}_TIME_ZONE`] || 'UTC'));
    } catch (error) {
      throw new KeelError('invalid-input', `WINDOW_${n}: ${(error as Error).message}`, { cause: error });
    }
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
    return windowOfJson(w as Record<string, unknown>, i, timeZone);
  });
}

function windowOfJson(w: Record<string, unknown>, i: number, timeZone: string): Window {
  const lengthMs = typeof w.length === 'string' ? parseDurationMs(w.length) : undefined;
  if (typeof w.length === 'string' && lengthMs === undefined) throw new KeelError('invalid-input', `WINDOWS[${i}].length: expected ${durationText}, found '${w.length}'`);
  const length = typeof w.lengthMinutes === 'number' ? w.lengthMinutes : lengthMs !== undefined ? lengthMs / 60_000 : typeof w.length_minutes === 'number' ? w.length_minutes : NaN;
  return weeklyWindow(Array.isArray(w.days) ? w.days.map(String) : [], String(w.start ?? w.start_time ?? ''), length, String(w.timeZone ?? w.time_zone ?? timeZone));
}

/** The two spellings of the check interval: a layer that sets either replaces both below it. */
const checkIntervalKeys = ['CHECK_INTERVAL', 'CHECK_INTERVAL_MINUTES'];

/**
 * Merges parsed layers, lowest first, key by key, remembering which file each key came from
 * so a problem names the file to fix.
 */
export function mergeLayers(layers: readonly { file: string; values: Record<string, string> }[]): { values: Record<string, string>; sources: Record<string, string> } {
  const values: Record<string, string> = {};
  const sources: Record<string, string> = {};
  for (const layer of layers) {
    const replaced = checkIntervalKeys.some((k) => layer.values[k] !== undefined) ? checkIntervalKeys : [];
    for (const k of replaced) {
      delete values[k];
      delete sources[k];
    }
    for (const [key, value] of Object.entries(layer.values)) {
      values[key] = value;
      sources[key] = layer.file;
    }
  }
  return { values, sources };
}

/**
 * Reads and merges the three sources under `root`. `coreos.locksmith`'s window lands in
 * /etc/keel/lock.conf, so its WINDOW_START/WINDOW_LENGTH are the lowest layer.
 */
export async function loadUpdateConfig(root: string): Promise<UpdateConfig> {
  const layers: { file: string; values: Record<string, string> }[] = [];
  const lockFile = join(root, 'etc/keel/lock.conf');
  const lockText = await readFile(lockFile, 'utf8').catch(() => undefined);
  if (lockText !== undefined) {
    const lock = parseUpdateConf(lockText);
    layers.push({ file: lockFile, values: Object.fromEntries(['WINDOW_START', 'WINDOW_LENGTH'].filter((k) => lock[k]).map((k) => [k, lock[k]!])) });
  }
  for (const source of configSources) {
    const file = join(root, source);
    const text = await readFile(file, 'utf8').catch(() => undefined);
    if (text !== undefined) layers.push({ file, values: parseUpdateConf(text) });
  }
  const { values, sources } = mergeLayers(layers);
  return updateConfigOf(values, sources);
}
