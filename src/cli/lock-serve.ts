/**
 * `keel lock serve`: the FleetLock server. Its options are checked before anything
 * starts, each failure one line naming the option (exit 2); without --client-ca or
 * --tokens it serves anyone and says so at start.
 */
import { readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { KeelError } from '../errors.js';
import { createLogger } from '../log.js';
import { type Command, type CommandContext, printJson, stringOption } from './command.js';
import { readDurationMs } from '../duration.js';
import { parseTokens, type FleetLockAuth } from '../lock/fleetlock-auth.js';
import { defaultMaxGroups, startFleetLockServer, type FleetLockTls } from '../lock/fleetlock-server.js';
import { openEtcdStore } from '../lock/open-reboot-lock.js';
import { idProblem } from '../lock/semaphore.js';
import { connectionOptions, lockSettingsOf } from './lock-settings.js';
import { attachDashboard } from './fleet-serve.js';

/** Most slots `--slots` may give a new group: every holder id sits in one etcd value. */
export const maxServeSlots = 10_000;
/** Most groups `--max-groups` may allow. */
export const maxMaxGroups = 100_000;

/** `host:port` of --listen: an IPv4 address, a bracketed IPv6 address or a host name, and a port 0–65535. */
export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  const host = m ? (m[1] ?? m[2]!) : '';
  const hostOk = m?.[1] !== undefined ? isIP(host) === 6 : /^\d+(\.\d+){3}$/.test(host) ? isIP(host) === 4 : /^[a-zA-Z0-9]([a-zA-Z0-9.-]{0,251}[a-zA-Z0-9])?$/.test(host);
  if (!m || port > 65535 || !hostOk)
    throw new KeelError('usage', `--listen: expected ADDRESS:PORT with a port from 0 to 65535 (e.g. 127.0.0.1:3333 or [::1]:3333), found '${text}'`);
  return { host, port };
}

/** A whole number option in [min, max], or undefined when not given. */
export function boundedOption(ctx: CommandContext, name: string, min: number, max: number): number | undefined {
  const text = stringOption(ctx.values, name);
  if (text === undefined) return undefined;
  if (!/^\d{1,9}$/.test(text) || Number(text) < min || Number(text) > max) throw new KeelError('usage', `--${name}: expected a whole number from ${min} to ${max}, found '${text}'`);
  return Number(text);
}

function readOptionFile(option: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new KeelError('usage', `--${option}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); refusing to start`, { cause: error });
  }
}

/** TLS and client authentication from the options; warnings (a tokens file others can read) go to `warn`. */
export function authOf(ctx: CommandContext, warn: (m: string) => void): { tls?: FleetLockTls; auth?: FleetLockAuth } {
  const cert = stringOption(ctx.values, 'tls-cert');
  const key = stringOption(ctx.values, 'tls-key');
  const clientCa = stringOption(ctx.values, 'client-ca');
  const tokensFile = stringOption(ctx.values, 'tokens');
  const operators = (stringOption(ctx.values, 'operators') ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if ((cert === undefined) !== (key === undefined)) throw new KeelError('usage', '--tls-cert and --tls-key: expected both or neither, found only one');
  if (clientCa !== undefined && cert === undefined) throw new KeelError('usage', '--client-ca: needs --tls-cert and --tls-key (client certificates are checked over TLS)');
  for (const name of operators) {
    const problem = idProblem(name);
    if (problem) throw new KeelError('usage', `--operators: ${problem}`);
  }
  const tls = cert !== undefined && key !== undefined ? { cert: readOptionFile('tls-cert', cert), key: readOptionFile('tls-key', key), ...(clientCa !== undefined ? { clientCa: readOptionFile('client-ca', clientCa) } : {}) } : undefined;
  let tokens: FleetLockAuth['tokens'] = [];
  if (tokensFile !== undefined) {
    const text = readOptionFile('tokens', tokensFile).toString('utf8');
    tokens = parseTokens(text, tokensFile);
    if (tokens.length === 0) throw new KeelError('usage', `--tokens: ${tokensFile} has no 'node-id token' line; refusing to start`);
    if ((statSync(tokensFile).mode & 0o077) !== 0) warn(`--tokens: ${tokensFile} can be read by other users than its owner; chmod 600 it`);
  }
  if (operators.length > 0 && clientCa === undefined && tokens.length === 0) throw new KeelError('usage', '--operators: needs --client-ca or --tokens (an operator is a client certificate name or a token name)');
  const auth = clientCa !== undefined || tokens.length > 0 ? { clientCerts: clientCa !== undefined, tokens, operators: new Set(operators) } : undefined;
  return { ...(tls ? { tls } : {}), ...(auth ? { auth } : {}) };
}

export const serve: Command = {
  name: 'serve',
  summary: 'serve the FleetLock protocol (Zincati, keel --fleetlock) over the etcd semaphore',
  json: true,
  options: {
    ...connectionOptions,
    listen: { type: 'string', valueName: 'ADDR', description: 'address:port to listen on (default 127.0.0.1:3333; port 0 = any free port)' },
    base: { type: 'string', valueName: 'PATH', description: 'path prefix of the endpoints, e.g. /fleetlock (default none)' },
    slots: { type: 'string', valueName: 'N', description: `slots of a group the server creates, 1 to ${maxServeSlots} (default 1)` },
    'max-groups': { type: 'string', valueName: 'N', description: `groups served at once; a new one beyond gets 429 (default ${defaultMaxGroups})` },
    'tls-cert': { type: 'string', valueName: 'FILE', description: 'serve HTTPS with this certificate (PEM)' },
    'tls-key': { type: 'string', valueName: 'FILE', description: 'key of --tls-cert (PEM)' },
    'client-ca': { type: 'string', valueName: 'FILE', description: 'require client certificates from this CA; the common name is the node id' },
    tokens: { type: 'string', valueName: 'FILE', description: "require bearer tokens: one 'node-id token' per line" },
    operators: { type: 'string', valueName: 'NAME,…', description: 'certificate or token names that may release any holder' },
    dashboard: { type: 'boolean', description: 'also serve the fleet dashboard (/, /api/v1, /metrics) on this listener (docs/dashboard.md)' },
    groups: { type: 'string', valueName: 'G,…', description: 'with --dashboard: groups to show (default --group)' },
  },
  maxPositionals: 0,
  details:
    'POST <base>/v1/pre-reboot and <base>/v1/steady-state with the header fleet-lock-protocol: true and\n{"client_params":{"id":…,"group":…}}; keel also answers GET <base>/v1/status?group=G. Runs until SIGTERM.\n' +
    'Without --client-ca or --tokens any client may take or release any slot (Zincati cannot authenticate). See docs/lock.md.',
  async run(ctx) {
    const log = createLogger(ctx.stderr);
    const { host, port } = parseListen(stringOption(ctx.values, 'listen') ?? '127.0.0.1:3333');
    const slots = boundedOption(ctx, 'slots', 1, maxServeSlots);
    const maxGroups = boundedOption(ctx, 'max-groups', 1, maxMaxGroups);
    const base = (stringOption(ctx.values, 'base') ?? '').replace(/\/+$/, '');
    if (base !== '' && !/^(\/[A-Za-z0-9._~-]+)+$/.test(base)) throw new KeelError('usage', `--base: expected a path like /fleetlock, found '${base}'`);
    const { tls, auth } = authOf(ctx, (m) => log.warning(m));
    const settings = lockSettingsOf(ctx);
    const store = openEtcdStore(settings);
    let started;
    try {
      started = await startFleetLockServer(
        { store, base, log, ...(auth ? { auth } : {}), ...(slots !== undefined ? { defaultSlots: slots } : {}), ...(maxGroups !== undefined ? { maxGroups } : {}), ...(settings.maxHold ? { maxHoldMs: readDurationMs(settings.maxHold, 'max hold time', { bare: 'seconds' }) } : {}) },
        host,
        port,
        tls,
      );
    } catch (error) {
      await store.close();
      const code = ((error as { cause?: NodeJS.ErrnoException }).cause ?? {}).code;
      // A port in use may free up (exit 1); an address this host does not have will not (exit 2).
      throw new KeelError(code === 'EADDRINUSE' ? 'io' : 'usage', `--listen: cannot listen on ${host}:${port} (${code ?? (error as Error).message})`, { cause: error });
    }
    const { server, url } = started;
    const dashboard = ctx.values.dashboard === true ? await attachDashboard(ctx, server, store, auth, log) : undefined;
    if (!auth) log.warning(`keel lock serve: no client authentication (--client-ca or --tokens): any client that reaches ${url} may take or release any node's slot; this mode is for Zincati clients on a trusted network`);
    else log.info(`keel lock serve: clients authenticate with ${[auth.clientCerts ? 'client certificates' : '', auth.tokens.length ? `${auth.tokens.length} bearer tokens` : ''].filter(Boolean).join(' or ')}; operators: ${[...auth.operators].join(', ') || 'none'}`);
    if (ctx.json) printJson(ctx, { listening: url, authenticated: Boolean(auth) });
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
    await dashboard?.close();
    await store.close();
    return 0;
  },
};
