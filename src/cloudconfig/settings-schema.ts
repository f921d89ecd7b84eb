/**
 * `update`, `lock` and `etcd` settings, in both spellings: CoreOS's (`coreos.update`,
 * `coreos.locksmith`, `coreos.etcd2`) and keel's (`keel.update`, `keel.lock`, `keel.etcd`).
 * Each refines to the part of the model it sets (only the fields given), so `keel:` can be
 * laid over `coreos:` field by field.
 */
import { absolutePath, duration, nonEmpty, s, timezone, url, urlList } from '../schema/index.js';
import type { EtcdSettings } from './model.js';
import type { LockSettings } from '../lock/lock-settings.js';
import { rebootStrategies, type RebootStrategy, type UpdateSettings, type WeeklyWindow } from '../update/update-settings.js';
import { checkWindow, dayNames, windowLength, windowStart } from './window-fields.js';
import { formatMaxFailures, parseMaxFailures } from '../fleet/rollout-policy.js';
import { isValidUnitName } from '../systemd/unit-name.js';
import { quote } from '../schema/describe.js';
import { containerNamePattern } from '../containers/spec-schema.js';

const rebootStrategy = s.enum([...rebootStrategies], { description: 'when a node may reboot after an update' });

/** A FleetLock-compatible group name. */
const lockGroup = s.string({ pattern: /^[a-zA-Z0-9.-]+$/, patternText: 'a group name of letters, digits, . and -' });

/** Sets `to[key]` only when `value` is defined, so absent fields stay absent for the merge. */
function put<T extends object, K extends keyof T>(to: T, key: K, value: T[K] | undefined): void {
  if (value !== undefined) to[key] = value;
}

/** `coreos.update`: reboot_strategy, group, server. */
export const coreosUpdateSchema = s.object(
  { reboot_strategy: rebootStrategy, group: nonEmpty, server: url },
  {
    description: 'CoreOS update settings',
    refine: (v): Partial<UpdateSettings> => {
      const out: Partial<UpdateSettings> = {};
      put(out, 'rebootStrategy', v.reboot_strategy as RebootStrategy | undefined);
      put(out, 'group', v.group as string | undefined);
      put(out, 'server', v.server as string | undefined);
      return out;
    },
  },
);

const dayName = s.string({
  expected: 'a day such as mon or Tuesday',
  check: (d) => (dayNames.some((n) => d.toLowerCase().startsWith(n) && /^[a-z]+$/i.test(d)) ? undefined : `expected a day such as mon or tuesday, found ${JSON.stringify(d)}`),
});

/** Zincati-style weekly window. */
const weeklyWindow = s.object(
  {
    days: s.required(s.list(dayName, { minItems: 1, expected: 'a list of days' })),
    start: s.required(s.string({ pattern: /^([01]\d|2[0-3]):[0-5]\d$/, patternText: 'a start time HH:MM such as 04:30' })),
    length: s.required(duration({ minMs: 60_000, maxMs: 7 * 86_400_000 })),
    time_zone: timezone,
  },
  {
    refine: (v): WeeklyWindow | undefined => {
      if (v.days === undefined || v.start === undefined || v.length === undefined) return undefined;
      return {
        days: (v.days as string[]).map((d) => d.slice(0, 3).toLowerCase()),
        start: v.start as string,
        lengthMinutes: (v.length as number) / 60_000,
        ...(v.time_zone !== undefined ? { timeZone: v.time_zone as string } : {}),
      };
    },
  },
);

const maxFailuresText = 'a number of failed nodes (1 or more) or a percentage of the group such as 5%';

/** `max_failures`: `3` or `"5%"`, kept as update.conf's text. */
const maxFailures = s.custom({
  expected: maxFailuresText,
  jsonSchema: { anyOf: [{ type: 'integer', minimum: 1 }, { type: 'string', pattern: '^[0-9]{1,3}(\\.[0-9]{1,3})?%$' }] },
  read({ value }, r) {
    if (typeof value !== 'number' && typeof value !== 'string') return r.error(`expected ${maxFailuresText}, found ${quote(value)}`);
    try {
      return formatMaxFailures(parseMaxFailures(String(value)));
    } catch {
      return r.error(`expected ${maxFailuresText}, found ${quote(value)}`);
    }
  },
});

/** `keel.update.rollout`: the brake on a release that fails (docs/fleet.md). */
const rollout = s.object(
  {
    max_failures: maxFailures,
    health_deadline: duration({ minMs: 1000, description: 'how long after its reboot a node has to pass its health gate before it counts as failed' }),
  },
  { description: 'rollout policy: when a release stops rolling through the group' },
);

const unitName = s.string({ expected: 'a unit name such as web.service', check: (u) => (isValidUnitName(u) ? undefined : `expected a unit name such as web.service, found ${JSON.stringify(u)}`) });

/** `pre_reboot.containers`: `all` keel containers, or a list of their names. */
const allContainers = s.string({ expected: 'all or a list of container names', check: (v) => (v === 'all' ? undefined : `expected all or a list of container names, found ${JSON.stringify(v)}`) });
// In a list, `all` would reach update.conf as PRE_REBOOT_CONTAINERS=all, which means every container.
const listedContainer = s.string({
  pattern: containerNamePattern,
  patternText: 'a container name of lowercase letters, digits, ., _ and - (at most 63)',
  check: (v) => (v === 'all' ? 'expected container names, found all; write containers: all (not in a list) for every container' : undefined),
});
const preRebootContainers = s.union([allContainers, s.list(listedContainer, { minItems: 1 })], { expected: 'all or a list of container names' });

/** `keel.update.pre_reboot`: checks before the agent asks for a reboot slot. */
const preReboot = s.object(
  {
    command: nonEmpty,
    units: s.list(unitName),
    containers: preRebootContainers,
    group_clear: lockGroup,
    etcd_quorum: s.enum(['auto', 'off'], { description: 'auto: on a host that runs an etcd member, ask only while its cluster keeps a quorum without it' }),
  },
  { description: 'checks that must pass before a node asks for a reboot slot' },
);

/** `keel.update`: everything the update agent reads from /etc/keel/update.conf. */
export const keelUpdateSchema = s.object(
  {
    reboot_strategy: rebootStrategy,
    group: nonEmpty,
    channel: nonEmpty,
    server: url,
    trust_key: absolutePath,
    check_interval: duration({ minMs: 60_000, description: 'how often to look for an update (at least 1m)' }),
    window_start: windowStart,
    window_length: windowLength,
    windows: s.list(weeklyWindow),
    postpone_while_logged_in: s.boolean(),
    rollout_wariness: s.number({ minimum: 0, maximum: 1 }),
    boot_tries: s.integer({ minimum: 1, maximum: 10 }),
    rollout,
    pre_reboot: preReboot,
  },
  {
    description: 'keel update agent settings',
    refine: (v, ctx): Partial<UpdateSettings> => {
      checkWindow(v, ctx);
      const out: Partial<UpdateSettings> = {};
      put(out, 'rebootStrategy', v.reboot_strategy as RebootStrategy | undefined);
      put(out, 'group', v.group as string | undefined);
      put(out, 'channel', v.channel as string | undefined);
      put(out, 'server', v.server as string | undefined);
      put(out, 'trustKey', v.trust_key as string | undefined);
      put(out, 'checkIntervalMinutes', v.check_interval === undefined ? undefined : (v.check_interval as number) / 60_000);
      put(out, 'windowStart', v.window_start as string | undefined);
      put(out, 'windowLength', v.window_length as string | undefined);
      put(out, 'windows', v.windows as WeeklyWindow[] | undefined);
      put(out, 'postponeWhileLoggedIn', v.postpone_while_logged_in as boolean | undefined);
      put(out, 'rolloutWariness', v.rollout_wariness as number | undefined);
      put(out, 'bootTries', v.boot_tries as number | undefined);
      const r = v.rollout as { max_failures?: string; health_deadline?: number } | undefined;
      put(out, 'rolloutMaxFailures', r?.max_failures);
      put(out, 'rolloutHealthDeadlineMs', r?.health_deadline);
      const p = v.pre_reboot as { command?: string; units?: string[]; containers?: 'all' | string[]; group_clear?: string; etcd_quorum?: 'auto' | 'off' } | undefined;
      put(out, 'preRebootCommand', p?.command);
      put(out, 'preRebootUnits', p?.units);
      put(out, 'preRebootContainers', p?.containers);
      put(out, 'preRebootGroupClear', p?.group_clear);
      put(out, 'preRebootEtcdQuorum', p?.etcd_quorum);
      return out;
    },
  },
);

/** `coreos.locksmith`: locksmith's names; `endpoint` is a comma-separated list. */
export const coreosLocksmithSchema = s.object(
  {
    endpoint: s.string({
      expected: 'comma-separated etcd URLs',
      check: (e) => (e.split(',').every((u) => /^[a-z][a-z0-9+.-]*:\/\/\S+$/i.test(u.trim())) ? undefined : `expected comma-separated etcd URLs such as http://10.0.0.1:2379, found ${JSON.stringify(e)}`),
    }),
    etcd_cafile: absolutePath,
    etcd_certfile: absolutePath,
    etcd_keyfile: absolutePath,
    etcd_username: nonEmpty,
    etcd_password: s.string(),
    group: lockGroup,
    window_start: windowStart,
    window_length: windowLength,
  },
  {
    description: 'CoreOS locksmith settings',
    refine: (v, ctx): Partial<LockSettings> => {
      checkWindow(v, ctx);
      const out: Partial<LockSettings> = {};
      put(out, 'endpoints', v.endpoint === undefined ? undefined : (v.endpoint as string).split(',').map((u) => u.trim()));
      put(out, 'cafile', v.etcd_cafile as string | undefined);
      put(out, 'certfile', v.etcd_certfile as string | undefined);
      put(out, 'keyfile', v.etcd_keyfile as string | undefined);
      put(out, 'username', v.etcd_username as string | undefined);
      put(out, 'password', v.etcd_password as string | undefined);
      put(out, 'group', v.group as string | undefined);
      put(out, 'windowStart', v.window_start as string | undefined);
      put(out, 'windowLength', v.window_length as string | undefined);
      return out;
    },
  },
);

/** `keel.lock`: the reboot lock client (etcd v3 or a FleetLock server). */
export const keelLockSchema = s.object(
  {
    endpoints: urlList,
    group: lockGroup,
    cafile: absolutePath,
    certfile: absolutePath,
    keyfile: absolutePath,
    username: nonEmpty,
    password: s.string(),
    fleetlock_url: url,
    max_hold: duration({ minMs: 60_000 }),
    window_start: windowStart,
    window_length: windowLength,
  },
  {
    description: 'keel reboot lock settings',
    refine: (v, ctx): Partial<LockSettings> => {
      checkWindow(v, ctx);
      const out: Partial<LockSettings> = {};
      put(out, 'endpoints', v.endpoints as string[] | undefined);
      put(out, 'group', v.group as string | undefined);
      put(out, 'cafile', v.cafile as string | undefined);
      put(out, 'certfile', v.certfile as string | undefined);
      put(out, 'keyfile', v.keyfile as string | undefined);
      put(out, 'username', v.username as string | undefined);
      put(out, 'password', v.password as string | undefined);
      put(out, 'fleetlockUrl', v.fleetlock_url as string | undefined);
      put(out, 'maxHold', v.max_hold === undefined ? undefined : maxHoldText(v.max_hold as number));
      put(out, 'windowStart', v.window_start as string | undefined);
      put(out, 'windowLength', v.window_length as string | undefined);
      return out;
    },
  },
);

/** The model keeps max_hold as a duration string; normalise it to whole minutes, e.g. `90m`. */
function maxHoldText(ms: number): string {
  return `${Math.round(ms / 60_000)}m`;
}

/** An etcd flag's value: one line (etcd's flags never span lines; a line break here is a mistake, which the unit would not show as written). */
const etcdValue = s.string({
  coerce: 'silent',
  check: (v) => (/[\x00-\x1f\x7f]/.test(v) ? `expected a value on one line without control characters, found ${JSON.stringify(v)}; refusing to write it into etcd's unit` : undefined),
});

/** `coreos.etcd2` / `keel.etcd`: any etcd flag name → `ETCD_<UPPER_SNAKE>` environment. */
export const etcdSchema = s.map(etcdValue, {
  description: 'etcd member flags (name, discovery, initial_cluster, advertise_client_urls…), written as ETCD_* environment',
  keyPattern: /^[A-Za-z][A-Za-z0-9_-]*$/,
  keyPatternText: 'an etcd flag name such as advertise_client_urls',
  refine: (v): EtcdSettings => ({
    environment: Object.fromEntries(Object.entries(v).map(([k, value]) => [`ETCD_${k.toUpperCase().replace(/-/g, '_')}`, String(value)])),
  }),
});
