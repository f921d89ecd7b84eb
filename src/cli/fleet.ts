/**
 * `keel fleet`: the fleet's view from etcd (status, with --watch redrawing on etcd watch
 * events) and the operator's brake (halt, resume). Reads only etcd, so it works from any
 * host or a laptop with the endpoints and certificates; the options are `keel lock`'s.
 */
import { KeelError } from '../errors.js';
import { createLogger } from '../log.js';
import { longestTimerMs, readDurationMs } from '../duration.js';
import { defaultGroup } from '../lock/group-keys.js';
import type { EtcdConnection } from '../lock/etcd-store.js';
import { checkVersion } from '../fleet/fleet-keys.js';
import { FleetStore, type RolloutChange } from '../fleet/fleet-store.js';
import { fleetStatus, type FleetStatus } from '../fleet/fleet-status.js';
import { formatFleetStatus, printable } from '../fleet/fleet-status-text.js';
import { haltMessage } from '../fleet/rollout-record.js';
import { connectionOptions, lockSettingsOf } from './lock-settings.js';
import { type Command, type CommandContext, type CommandGroup, type LazyCommand, type OptionSpec, printJson, stringOption } from './command.js';

const { 'max-hold': _maxHold, ...etcdOptions } = connectionOptions;
const timeoutOption: Record<string, OptionSpec> = {
  timeout: { type: 'string', valueName: 'D', description: 'give up when etcd has not answered within D (default 5s)' },
};

/** The group and the etcd connection from lock.conf and the flags, as `keel lock` reads them. */
function connectionOf(ctx: CommandContext): { group: string; connection: EtcdConnection; timeoutMs: number } {
  const s = lockSettingsOf(ctx);
  if (s.endpoints.length === 0)
    throw new KeelError('invalid-input', `no etcd endpoints: pass --endpoints or set ENDPOINTS in /etc/keel/lock.conf${s.fleetlockUrl ? ' (a FleetLock server holds no fleet records)' : ''}`);
  const timeout = stringOption(ctx.values, 'timeout');
  const timeoutMs = timeout === undefined ? 5000 : readDurationMs(timeout, '--timeout', { bare: 'seconds', maxMs: longestTimerMs });
  const optional = { cafile: s.cafile, certfile: s.certfile, keyfile: s.keyfile, username: s.username, password: s.password };
  const connection: EtcdConnection = { endpoints: s.endpoints, ...Object.fromEntries(Object.entries(optional).filter(([, v]) => v !== undefined)) };
  return { group: s.group || defaultGroup, connection, timeoutMs };
}

/** Runs `fn` against etcd, failing with one line naming the endpoints when it has not answered within the deadline. */
async function withStore<T>(ctx: CommandContext, fn: (store: FleetStore, group: string) => Promise<T>): Promise<T> {
  const { group, connection, timeoutMs } = connectionOf(ctx);
  const store = new FleetStore(connection, { operationTimeoutMs: timeoutMs, log: createLogger(ctx.stderr) });
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new KeelError('unavailable', `etcd at ${connection.endpoints.join(',')} did not answer within ${timeoutMs} ms; check --endpoints and that etcd is running`)), timeoutMs);
  });
  try {
    return await Promise.race([fn(store, group), deadline]);
  } catch (error) {
    // etcd's own messages can span lines; the command's failure is one, naming the endpoints.
    if (error instanceof KeelError) {
      const line = error.message.split('\n')[0]!.replace(/^etcd did not answer/, `etcd at ${connection.endpoints.join(',')} did not answer`);
      throw new KeelError(error.kind, line, { cause: error });
    }
    throw error;
  } finally {
    clearTimeout(timer);
    await store.close();
  }
}

function show(ctx: CommandContext, status: FleetStatus, compact: boolean): void {
  const log = createLogger(ctx.stderr);
  for (const w of status.warnings) log.warning(printable(w, 400));
  if (!ctx.json) ctx.stdout.write(formatFleetStatus(status));
  else if (compact) ctx.stdout.write(JSON.stringify(status) + '\n');
  else printJson(ctx, status);
}

const status: Command = {
  name: 'status',
  summary: "show each node's record, then how many run each version, failures, the lock holders and the rollouts",
  json: true,
  options: { ...etcdOptions, ...timeoutOption, watch: { type: 'boolean', description: 'redraw on every change in etcd (a watch, not a timer) until interrupted' } },
  maxPositionals: 0,
  details: 'With --watch --json, one JSON document a line, one line a change. A malformed or foreign record is a warning on stderr naming its key; the rest still shows.',
  async run(ctx) {
    if (ctx.values.watch !== true) return withStore(ctx, async (store, group) => (show(ctx, fleetStatus((await store.read(group)).input), false), 0));
    const first = await withStore(ctx, async (store, group) => ({ read: await store.read(group), group }));
    show(ctx, fleetStatus(first.read.input), true);
    return watchStatus(ctx, first.group, first.read.revision);
  },
};

/** Redraws on each batch of watch events; a change during a read is drawn right after it. */
async function watchStatus(ctx: CommandContext, group: string, revision: number): Promise<number> {
  const { connection } = connectionOf(ctx);
  const store = new FleetStore(connection, { log: createLogger(ctx.stderr) });
  const tty = (ctx.stdout as NodeJS.WriteStream).isTTY === true && !ctx.json;
  let seen = revision;
  let busy = false;
  let wanted = 0;
  const redraw = async () => {
    if (busy) return;
    busy = true;
    try {
      while (wanted > seen) {
        const target = wanted;
        const read = await store.read(group).catch((error: Error) => (createLogger(ctx.stderr).warning(`${error.message.split('\n')[0]}; showing the last view`), undefined));
        if (!read) break;
        seen = Math.max(target, read.revision);
        if (tty) ctx.stdout.write('\x1b[H\x1b[2J');
        else if (!ctx.json) ctx.stdout.write('\n');
        show(ctx, fleetStatus(read.input), true);
      }
    } finally {
      busy = false;
    }
  };
  const watch = await store.watch(group, revision, (rev) => {
    wanted = Math.max(wanted, rev);
    void redraw();
  });
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await watch.close();
  await store.close();
  return 0;
}

async function report(ctx: CommandContext, store: FleetStore, group: string, version: string, change: RolloutChange, done: string, unchanged: string): Promise<number> {
  // The change saw only the stored value; show the record with every node's marks.
  if (ctx.json) printJson(ctx, { group, version, changed: change.ok && change.changed, rollout: (await store.readRollout(group, version)) ?? change.record });
  else ctx.stdout.write(`${change.ok && change.changed ? done : unchanged}\n`);
  return 0;
}

const haltCommand: Command = {
  name: 'halt',
  summary: 'halt the rollout of VERSION: no agent takes a reboot slot for it until resumed',
  usage: 'VERSION',
  json: true,
  options: { ...etcdOptions, ...timeoutOption, reason: { type: 'string', valueName: 'TEXT', description: 'why (required; shown by status)' } },
  minPositionals: 1,
  maxPositionals: 1,
  details: 'Creates the rollout record if no node has started VERSION yet. A halted rollout keeps its first halt.',
  async run(ctx) {
    const version = checkVersion(ctx.positionals[0]!);
    const reason = stringOption(ctx.values, 'reason')?.trim();
    if (!reason) throw new KeelError('usage', 'halt: expected --reason TEXT saying why');
    return withStore(ctx, async (store, group) => {
      const change = await store.halt(group, version, reason);
      const h = change.record.halted!;
      return report(ctx, store, group, version, change, `rollout of ${version} in group '${group}' is halted: ${printable(reason)}`, `already ${printable(haltMessage(version, h), 400)}`);
    });
  },
};

const resumeCommand: Command = {
  name: 'resume',
  summary: 'lift the halt of the rollout of VERSION (its failures stay counted: the next one halts again)',
  usage: 'VERSION',
  json: true,
  options: { ...etcdOptions, ...timeoutOption },
  minPositionals: 1,
  maxPositionals: 1,
  async run(ctx) {
    const version = checkVersion(ctx.positionals[0]!);
    return withStore(ctx, async (store, group) => {
      const change = await store.resume(group, version);
      return report(ctx, store, group, version, change, `rollout of ${version} in group '${group}' resumed`, `rollout of ${version} in group '${group}' was not halted`);
    });
  },
};

// serve (the dashboard, with prom-client) loads its modules only when it runs.
const serveCommand: LazyCommand = {
  name: 'serve',
  summary: 'serve the fleet dashboard (live page, /api/v1 JSON, /metrics) from etcd',
  load: async () => (await import('./fleet-serve.js')).fleetServe,
};

/** `keel fleet`: node records, rollouts and their brake, from etcd. */
export const fleetCommands: CommandGroup<Command | LazyCommand> = {
  name: 'fleet',
  summary: "the fleet's records in etcd: status, halt and resume a rollout, the dashboard",
  commands: [status, haltCommand, resumeCommand, serveCommand],
};
