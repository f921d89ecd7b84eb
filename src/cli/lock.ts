import { readFileSync } from 'node:fs';
import { KeelError } from '../errors.js';
import { createLogger } from '../log.js';
import type { LockSettings } from '../lock/lock-settings.js';
import { connectionOptions, lockSettingsOf } from './lock-settings.js';
import { type Command, type CommandContext, type CommandGroup, type LazyCommand, type OptionSpec, printJson, stringOption } from './command.js';
import { defaultGroup } from '../lock/group-keys.js';
import { formatElapsedMs, longestTimerMs, readDurationMs } from '../duration.js';
import type { LockStatus, RebootLock } from '../lock/reboot-lock.js';
import { gatewayLockStatus } from '../lock/etcd-gateway.js';
import { agentRole, operatorRole } from '../lock/etcd-roles.js';

const fleetlockOption: Record<string, OptionSpec> = {
  fleetlock: { type: 'string', valueName: 'URL', description: 'use this FleetLock server instead of etcd' },
  'fleetlock-token': { type: 'string', valueName: 'FILE', description: 'bearer token for the FleetLock server, read from FILE' },
};

/** The token in --fleetlock-token's file (its first line), if given. */
function fleetlockToken(ctx: CommandContext): string | undefined {
  const file = stringOption(ctx.values, 'fleetlock-token');
  if (file === undefined) return undefined;
  let token: string;
  try {
    token = readFileSync(file, 'utf8').split('\n')[0]!.trim();
  } catch (error) {
    throw new KeelError('invalid-input', `--fleetlock-token: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, { cause: error });
  }
  if (!token) throw new KeelError('invalid-input', `--fleetlock-token: ${file} is empty; expected the token on its first line`);
  return token;
}
const idOption: Record<string, OptionSpec> = {
  id: { type: 'string', valueName: 'ID', description: 'holder id (default: /etc/machine-id)' },
};

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

// The lock's clients (etcd3's gRPC, ~110 ms to load) are imported when a command opens one:
// `keel lock status` reads etcd through its JSON gateway instead (etcd-gateway.ts).
async function withLock<T>(ctx: CommandContext, fn: (lock: RebootLock, settings: LockSettings) => Promise<T>, settings = lockSettingsOf(ctx)): Promise<T> {
  const token = fleetlockToken(ctx);
  const { openRebootLock } = await import('../lock/open-reboot-lock.js');
  const lock = openRebootLock(settings, { log: createLogger(ctx.stderr), operationTimeoutMs: 10_000, ...(token ? { fleetlockToken: token } : {}) });
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
    const settings = lockSettingsOf(ctx);
    fleetlockToken(ctx); // an unreadable --fleetlock-token fails here as in every lock command
    // etcd through its JSON gateway; FleetLock, or a gateway that cannot answer, through the lock's client.
    const useGateway = !settings.fleetlockUrl && settings.endpoints.length > 0;
    const viaGateway = useGateway ? await gatewayLockStatus(settings, settings.group ?? defaultGroup, { operationTimeoutMs: 10_000 }) : undefined;
    printStatus(ctx, viaGateway ?? (await withLock(ctx, (lock) => lock.status(), settings)));
    return 0;
  },
};

/** The status as text or JSON, with how long each holder has held its slot. */
function printStatus(ctx: CommandContext, s: LockStatus): void {
  const now = Date.now();
  const holders = s.holders.map((h) => ({ ...h, ...(h.since ? { heldForMs: Math.max(0, now - Date.parse(h.since)) } : {}) }));
  if (ctx.json) printJson(ctx, { group: s.group, totalSlots: s.totalSlots, available: Math.max(0, s.totalSlots - s.holders.length), holders });
  else {
    ctx.stdout.write(`group: ${s.group}\nslots: ${s.totalSlots} (${Math.max(0, s.totalSlots - s.holders.length)} available)\nholders:${holders.length === 0 ? ' none' : ''}\n`);
    for (const h of holders) ctx.stdout.write(`  ${h.id}  ${h.heldForMs !== undefined ? `held ${formatElapsedMs(h.heldForMs)} (since ${h.since})` : 'held since unknown (not taken by keel)'}\n`);
  }
}

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
    const ms = timeout !== undefined ? readDurationMs(timeout, '--timeout', { bare: 'seconds', maxMs: longestTimerMs }) : undefined;
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
    const [{ openEtcdStore }, { SemaphoreLock }] = await Promise.all([import('../lock/open-reboot-lock.js'), import('../lock/semaphore-lock.js')]);
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

// serve (the FleetLock server and its dashboard) and setup-auth load their modules only when
// they run: `keel lock status` on an operator's laptop need not evaluate them.
const serve: LazyCommand = {
  name: 'serve',
  summary: 'serve the FleetLock protocol (Zincati, keel --fleetlock) over the etcd semaphore',
  load: async () => (await import('./lock-serve.js')).serve,
};
const setupAuth: LazyCommand = {
  name: 'setup-auth',
  summary: `create keel's etcd roles (${agentRole}, ${operatorRole}) and users, then enable etcd authentication`,
  load: async () => (await import('./lock-setup-auth.js')).setupAuth,
};

/** `keel lock`: reboot coordination: an etcd semaphore and a FleetLock server. */
export const lockCommands: CommandGroup<Command | LazyCommand> = {
  name: 'lock',
  summary: 'reboot coordination: an etcd semaphore and a FleetLock server',
  commands: [status, acquire, release, setMax, serve, setupAuth],
};
