/**
 * /etc/keel/lock.conf: the env file cloud-config's `coreos.locksmith` / `keel.lock` writes
 * (writer and key list: src/cloudconfig/plan-settings.ts). Read here into the model's
 * LockSettings, so `keel lock` and the update agent see what cloud-config asked for;
 * command-line flags override it.
 */
import { readFileSync } from 'node:fs';
import { durationText, parseDurationMs } from '../duration.js';
import { KeelError } from '../errors.js';
import type { LockSettings } from './lock-settings.js';
import { parseEnvFile } from '../systemd/env-file.js';

export const defaultLockConfPath = '/etc/keel/lock.conf';

/**
 * Reads the env-file text. The TLS and auth keys are ETCD_-prefixed; bare CAFILE etc. are
 * accepted too. MAX_HOLD and WINDOW_LENGTH are checked with the duration grammar every part
 * shares (src/duration.ts), so a value `keel lock` accepts is one the update agent accepts;
 * problems name `source` (the file) and the key.
 */
export function parseLockConf(text: string, source = 'lock.conf'): LockSettings {
  const env = parseEnvFile(text);
  const pick = (...keys: string[]) => keys.map((k) => env[k]).find((v) => v !== undefined && v !== '');
  const settings: LockSettings = { endpoints: (env.ENDPOINTS ?? '').split(',').map((e) => e.trim()).filter(Boolean) };
  const fields: [keyof LockSettings, string | undefined][] = [
    ['group', pick('GROUP')],
    ['cafile', pick('ETCD_CAFILE', 'CAFILE')],
    ['certfile', pick('ETCD_CERTFILE', 'CERTFILE')],
    ['keyfile', pick('ETCD_KEYFILE', 'KEYFILE')],
    ['username', pick('ETCD_USERNAME', 'USERNAME')],
    ['password', pick('ETCD_PASSWORD', 'PASSWORD')],
    ['fleetlockUrl', pick('FLEETLOCK_URL')],
    ['maxHold', pick('MAX_HOLD')],
    ['windowStart', pick('WINDOW_START')],
    ['windowLength', pick('WINDOW_LENGTH')],
  ];
  for (const [k, v] of fields) if (v !== undefined) (settings as unknown as Record<string, string>)[k] = v;
  checkDurations(settings, source);
  return settings;
}

/** MAX_HOLD may be a bare number of seconds (as `--max-hold` may); a window length may not (as in update.conf). */
function checkDurations(settings: LockSettings, source: string): void {
  const problems: string[] = [];
  if (settings.maxHold !== undefined && parseDurationMs(settings.maxHold, { bare: 'seconds' }) === undefined)
    problems.push(`MAX_HOLD: expected ${durationText} (or a number of seconds), found ${JSON.stringify(settings.maxHold)}`);
  const length = settings.windowLength === undefined ? undefined : parseDurationMs(settings.windowLength);
  if (settings.windowLength !== undefined && (length === undefined || length === 0))
    problems.push(`WINDOW_LENGTH: expected ${durationText} above zero, found ${JSON.stringify(settings.windowLength)}`);
  if (problems.length) throw new KeelError('invalid-input', `${source}: ${problems.join('; ')}; refusing to use the lock settings`);
}

/**
 * Reads lock.conf. A missing file at the default path is not an error (flags may say
 * everything); a missing file the user named is.
 */
export function readLockConf(path: string, required: boolean): LockSettings | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if (!required && (error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new KeelError(required ? 'invalid-input' : 'io', `${path}: cannot read the lock settings (${(error as Error).message})`, { cause: error });
  }
  return parseLockConf(text, path);
}
