import { readFileSync } from 'node:fs';
import { KeelError } from '../errors.js';
import { createLogger } from '../log.js';
import type { LockSettings } from '../cloudconfig/model.js';
import { type Command, type CommandContext, type CommandGroup, type OptionSpec, printJson, stringOption } from './command.js';
import { defaultLockConfPath, readLockConf } from '../lock/lock-conf.js';
import { openEtcdStore, openRebootLock } from '../lock/open-reboot-lock.js';
import { SemaphoreLock } from '../lock/semaphore-lock.js';
import { checkGroup, defaultGroup } from '../lock/group-keys.js';
import { formatDurationMs, parseDurationMs } from '../lock/duration.js';
import { startFleetLockServer } from '../lock/fleetlock-server.js';
import type { RebootLock } from '../lock/reboot-lock.js';

/** Where to find the lock: shared by every `keel lock` command; flags override lock.conf. */
const connectionOptions: Record<string, OptionSpec> = {
  config: { type: 'string', valueName: 'FILE', description: `lock settings env file (default ${defaultLockConfPath}, if present)` },
  endpoints: { type: 'string', valueName: 'URL,…', description: 'etcd client URLs, comma-separated' },
  group: { type: 'string', valueName: 'NAME', description: `reboot group (default ${defaultGroup}; ^[a-zA-Z0-9.-]+$)` },
  cacert: { type: 'string', valueName: 'FILE', description: 'CA certificate that signed the etcd server certificate' },
  cert: { type: 'string', valueName: 'FILE', description: 'client certificate for etcd' },
  key: { type: 'string', valueName: 'FILE', description: 'client certificate key for etcd' },
  user: { type: 'string', valueName: 'NAME', description: 'etcd user name' },
  password: { type: 'string', valueName: 'PW', description: 'etcd password (or KEEL_ETCD_PASSWORD in the environment)' },
  'max-hold': { type: 'string', valueName: 'D', description: 'release holders older than D when the group is full (off by default)' },
};
const fleetlockOption: Record<string, OptionSpec> = {
  fleetlock: { type: 'string', valueName: 'URL', description: 'use this FleetLock server instead of etcd' },
};
const idOption: Record<string, OptionSpec> = {
  id: { type: 'string', valueName: 'ID', description: 'holder id (default: /etc/machine-id)' },
};

/** lock.conf (if any) with the command-line flags laid over it. */
export function lockSettingsOf(ctx: CommandContext): LockSettings {
  const configPath = stringOption(ctx.values, 'config');
  const base = readLockConf(configPath ?? defaultLockConfPath, configPath !== undefined) ?? { endpoints: [] };
  const flag = (name: string) => stringOption(ctx.values, name);
  const endpoints = flag('endpoints');
  const settings: LockSettings = { ...base, ...(endpoints !== undefined ? { endpoints: endpoints.split(',').map((e) => e.trim()).filter(Boolean) } : {}) };
  const overrides: [keyof LockSettings, string | undefined][] = [
    ['group', flag('group')],
    ['cafile', flag('cacert')],
    ['certfile', flag('cert')],
    ['keyfile', flag('key')],
    ['username', flag('user')],
    ['password', flag('password') ?? (flag('user') !== undefined ? process.env.KEEL_ETCD_PASSWORD : undefined)],
    ['fleetlockUrl', flag('fleetlock')],
    ['maxHold', flag('max-hold')],
  ];
  for (const [k, v] of overrides) if (v !== undefined) (settings as unknown as Record<string, string>)[k] = v;
  checkGroup(settings.group ?? defaultGroup);
  if (settings.maxHold) parseDurationMs(settings.maxHold, '--max-hold');
  return settings;
}

/** The holder id: --id, else the machine id. */
function holderId(ctx: CommandContext): string {
  const id = stringOption(ctx.values, 'id');
  if (id !== undefined) return id;
  try {
    const machineId = readFileSync('/etc/machine-id', 'utf8').trim();
    if (machineId) return machineId;
  } catch {
    // fall through to the usage error
  }
  throw new KeelError('usage', 'no --id given and /etc/machine-id is missing or empty; pass --id ID');
}

async function withLock<T>(ctx: CommandContext, fn: (lock: RebootLock, settings: LockSettings) => Promise<T>): Promise<T> {
  const settings = lockSettingsOf(ctx);
  const lock = openRebootLock(settings, { log: createLogger(ctx.stderr), operationTimeoutMs: 10_000 });
  try {
    return await fn(lock, settings);
  } finally {
    await lock.close();
  }
}

const status: Command = {
  name: 'status',
  summary: 'show the group\'s slots and each holder with how long it has held',
  json: true,
  options: { ...connectionOptions, ...fleetlockOption },
  maxPositionals: 0,
  async run(ctx) {
    return withLock(ctx, async (lock) => {
      const s = await lock.status();
      const now = Date.now();
      const holders = s.holders.map((h) => ({ ...h, ...(h.since ? { heldForMs: Math.max(0, now - Date.parse(h.since)) } : {}) }));
      if (ctx.json) printJson(ctx, { group: s.group, totalSlots: s.totalSlots, available: Math.max(0, s.totalSlots - s.holders.length), holders });
      else {
        ctx.stdout.write(`group: ${s.group}\nslots: ${s.totalSlots} (${Math.max(0, s.totalSlots - s.holders.length)} available)\nholders:${holders.length === 0 ? ' none' : ''}\n`);
        for (const h of holders) ctx.stdout.write(`  ${h.id}  ${h.heldForMs !== undefined ? `held ${formatDurationMs(h.heldForMs)} (since ${h.since})` : 'held since unknown (not taken by keel)'}\n`);
      }
      return 0;
    });
  },
};

const acquire: Command = {
  name: 'acquire',
  summary: 'take a reboot slot (recursive: taking it again as its holder succeeds)',
  json: true,
  options: {
    ...connectionOptions,
    ...fleetlockOption,
    ...idOption,
    wait: { type: 'boolean', description: 'wait for a free slot (watching etcd, not polling) instead of failing at once' },
    timeout: { type: 'string', valueName: 'D', description: 'give up after D, e.g. 30s or 10m (default: no limit with --wait; 10s of etcd retries without)' },
  },
  maxPositionals: 0,
  details: 'Exits 1 with the holders named when the group is full and --wait is not given.',
  async run(ctx) {
    const id = holderId(ctx);
    const timeout = stringOption(ctx.values, 'timeout');
    const wait = ctx.values.wait === true;
    const ms = timeout !== undefined ? parseDurationMs(timeout, '--timeout') : undefined;
    return withLock(ctx, async (lock, settings) => {
      const t0 = Date.now();
      await lock.acquire(id, { wait, ...(ms !== undefined ? { signal: AbortSignal.timeout(ms) } : {}) });
      if (ctx.json) printJson(ctx, { acquired: true, id, group: settings.group ?? defaultGroup, waitedMs: Date.now() - t0 });
      else ctx.stdout.write(`${id} holds a reboot slot in group '${settings.group ?? defaultGroup}'\n`);
      return 0;
    });
  },
};

const release: Command = {
  name: 'release',
  summary: 'give back a reboot slot; an operator may release any holder (a no-op if not held)',
  json: true,
  options: { ...connectionOptions, ...fleetlockOption, ...idOption },
  maxPositionals: 0,
  async run(ctx) {
    const id = holderId(ctx);
    return withLock(ctx, async (lock, settings) => {
      await lock.release(id);
      if (ctx.json) printJson(ctx, { released: true, id, group: settings.group ?? defaultGroup });
      else ctx.stdout.write(`${id} holds no reboot slot in group '${settings.group ?? defaultGroup}'\n`);
      return 0;
    });
  },
};

const setMax: Command = {
  name: 'set-max',
  summary: 'set the number of reboot slots of the group (0 pauses reboots; holders are kept)',
  usage: 'N',
  json: true,
  options: connectionOptions,
  minPositionals: 1,
  maxPositionals: 1,
  async run(ctx) {
    const text = ctx.positionals[0]!;
    if (!/^\d+$/.test(text)) throw new KeelError('usage', `set-max: expected a whole number of slots, found '${text}'`);
    const settings = lockSettingsOf(ctx);
    const lock = new SemaphoreLock({ store: openEtcdStore(settings), group: settings.group ?? defaultGroup, operationTimeoutMs: 10_000 });
    try {
      await lock.setMax(Number(text));
    } finally {
      await lock.close();
    }
    if (ctx.json) printJson(ctx, { group: lock.group, totalSlots: Number(text) });
    else ctx.stdout.write(`group '${lock.group}' now has ${text} slot${text === '1' ? '' : 's'}\n`);
    return 0;
  },
};

const serve: Command = {
  name: 'serve',
  summary: 'serve the FleetLock protocol (Zincati, keel --fleetlock) over the etcd semaphore',
  json: true,
  options: {
    ...connectionOptions,
    listen: { type: 'string', valueName: 'ADDR', description: 'host:port to listen on (default 127.0.0.1:3333; port 0 = any free port)' },
    base: { type: 'string', valueName: 'PATH', description: 'path prefix of the endpoints, e.g. /fleetlock (default none)' },
    slots: { type: 'string', valueName: 'N', description: 'slots of a group the server creates (default 1)' },
  },
  maxPositionals: 0,
  details: 'POST <base>/v1/pre-reboot and <base>/v1/steady-state with the header fleet-lock-protocol: true and\n{"client_params":{"id":…,"group":…}}; keel also answers GET <base>/v1/status?group=G. Runs until SIGTERM.',
  async run(ctx) {
    const settings = lockSettingsOf(ctx);
    const listen = stringOption(ctx.values, 'listen') ?? '127.0.0.1:3333';
    const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(listen);
    if (!m) throw new KeelError('usage', `--listen: expected host:port, found '${listen}'`);
    const slots = stringOption(ctx.values, 'slots');
    if (slots !== undefined && !/^\d+$/.test(slots)) throw new KeelError('usage', `--slots: expected a whole number, found '${slots}'`);
    const base = (stringOption(ctx.values, 'base') ?? '').replace(/\/+$/, '');
    const store = openEtcdStore(settings);
    const log = createLogger(ctx.stderr);
    const { server, url } = await startFleetLockServer(
      { store, base, log, ...(slots !== undefined ? { defaultSlots: Number(slots) } : {}), ...(settings.maxHold ? { maxHoldMs: parseDurationMs(settings.maxHold) } : {}) },
      m[1] ?? m[2] ?? '127.0.0.1',
      Number(m[3]),
    );
    if (ctx.json) printJson(ctx, { listening: url });
    else ctx.stdout.write(`keel lock serve: listening on ${url}\n`);
    await new Promise<void>((resolve) => {
      const stop = () => {
        process.off('SIGTERM', stop);
        process.off('SIGINT', stop);
        server.close(() => resolve());
        server.closeAllConnections();
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    });
    await store.close();
    return 0;
  },
};

/** `keel lock`: reboot coordination: an etcd semaphore and a FleetLock server. */
export const lockCommands: CommandGroup = {
  name: 'lock',
  summary: 'reboot coordination: an etcd semaphore and a FleetLock server',
  commands: [status, acquire, release, setMax, serve],
};
