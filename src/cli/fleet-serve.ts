/**
 * `keel fleet serve`: the fleet dashboard, its JSON API and /metrics on a listener of its
 * own; and `attachDashboard`, which `keel lock serve --dashboard` uses to put the same
 * dashboard on the FleetLock server's listener, with that server's authentication.
 * The dashboard is a view and a remote control over etcd, never a second source of truth.
 */
import type { Server } from 'node:http';
import { KeelError } from '../errors.js';
import { createLogger, type Logger } from '../log.js';
import { checkGroup, defaultGroup } from '../lock/group-keys.js';
import { EtcdLockStore, type EtcdConnection } from '../lock/etcd-store.js';
import type { LockSettings } from '../lock/lock-settings.js';
import type { LockStore } from '../lock/lock-store.js';
import type { FleetLockAuth } from '../lock/fleetlock-auth.js';
import { etcdBackend } from '../dashboard/dashboard-backend.js';
import { startDashboardServer, mountDashboard } from '../dashboard/dashboard-listener.js';
import { createDashboard, type Dashboard } from '../dashboard/dashboard-server.js';
import { type Command, type CommandContext, printJson, stringOption } from './command.js';
import { connectionOptions, lockSettingsOf } from './lock-settings.js';
import { authOf, parseListen } from './lock-serve.js';

const { 'max-hold': _maxHold, ...etcdOptions } = connectionOptions;


/** The groups to show: --groups, else the lock settings' group. */
export function dashboardGroups(ctx: CommandContext, group: string | undefined): string[] {
  const list = stringOption(ctx.values, 'groups');
  const groups = list === undefined ? [group || defaultGroup] : list.split(',').map((g) => g.trim()).filter(Boolean);
  if (groups.length === 0 || groups.length > 100) throw new KeelError('usage', `--groups: expected 1 to 100 group names, found ${groups.length}`);
  for (const g of groups) {
    try {
      checkGroup(g);
    } catch (error) {
      throw new KeelError('usage', `--groups: ${(error as Error).message}`);
    }
  }
  return [...new Set(groups)];
}

/** The etcd connection of the lock settings (the fleet reads get their own client: whole groups need a larger message limit). */
function connectionOf(s: LockSettings): EtcdConnection {
  if (s.endpoints.length === 0) throw new KeelError('invalid-input', 'no etcd endpoints: pass --endpoints or set ENDPOINTS in /etc/keel/lock.conf');
  const optional = { cafile: s.cafile, certfile: s.certfile, keyfile: s.keyfile, username: s.username, password: s.password };
  return { endpoints: s.endpoints, ...Object.fromEntries(Object.entries(optional).filter(([, v]) => v !== undefined)) };
}

/** Serves the dashboard on `server` (the FleetLock server's); slots are released through the server's own lock store. */
export async function attachDashboard(ctx: CommandContext, server: Server, store: LockStore, auth: FleetLockAuth | undefined, log: Logger): Promise<Dashboard> {
  const settings = lockSettingsOf(ctx);
  const groups = dashboardGroups(ctx, settings.group);
  const dashboard = createDashboard({ backend: etcdBackend(connectionOf(settings), store, { log }), groups, log, ...(auth ? { auth } : {}) });
  mountDashboard(server, dashboard);
  await dashboard.start();
  return dashboard;
}

export const fleetServe: Command = {
  name: 'serve',
  summary: 'serve the fleet dashboard (live page, /api/v1 JSON, /metrics) from etcd',
  json: true,
  options: {
    ...etcdOptions,
    groups: { type: 'string', valueName: 'G,…', description: 'groups to show (default: --group, or lock.conf GROUP, or default)' },
    listen: { type: 'string', valueName: 'ADDR', description: 'address:port to listen on (default 127.0.0.1:8080; port 0 = any free port)' },
    'tls-cert': { type: 'string', valueName: 'FILE', description: 'serve HTTPS with this certificate (PEM)' },
    'tls-key': { type: 'string', valueName: 'FILE', description: 'key of --tls-cert (PEM)' },
    'client-ca': { type: 'string', valueName: 'FILE', description: 'accept client certificates from this CA; the common name is the identity' },
    tokens: { type: 'string', valueName: 'FILE', description: "accept bearer tokens: one 'name token' per line" },
    operators: { type: 'string', valueName: 'NAME,…', description: 'certificate or token names that may halt, resume and release' },
  },
  maxPositionals: 0,
  details:
    'GET / is the page; GET /api/v1/view, /api/v1/groups/G, /api/v1/events (server-sent events) and /metrics; POST\n' +
    '/api/v1/groups/G/rollouts/V/halt|resume and /api/v1/groups/G/slots/ID/release need an operator (--operators with\n' +
    '--tokens or --client-ca) and a confirmation. Without them the page is read-only. Runs until SIGTERM. See docs/dashboard.md.',
  async run(ctx) {
    const log = createLogger(ctx.stderr);
    const { host, port } = parseListen(stringOption(ctx.values, 'listen') ?? '127.0.0.1:8080');
    const { tls, auth } = authOf(ctx, (m) => log.warning(m));
    const s = lockSettingsOf(ctx);
    const connection = connectionOf(s);
    const groups = dashboardGroups(ctx, s.group);
    const lockStore = new EtcdLockStore(connection);
    const dashboard = createDashboard({ backend: etcdBackend(connection, lockStore, { log }), groups, log, ...(auth ? { auth } : {}) });
    let started;
    try {
      started = await startDashboardServer(dashboard, host, port, tls, log);
    } catch (error) {
      await dashboard.close();
      await lockStore.close();
      throw error;
    }
    await dashboard.start();
    const operators = auth ? [...auth.operators] : [];
    if (operators.length === 0) log.warning('keel fleet serve: no --operators with --tokens or --client-ca: the dashboard is read-only (halt, resume and release are refused)');
    if (ctx.json) printJson(ctx, { listening: started.url, groups, operators });
    else ctx.stdout.write(`keel fleet serve: listening on ${started.url} for group${groups.length === 1 ? '' : 's'} ${groups.join(', ')}\n`);
    await new Promise<void>((resolve) => {
      const stop = () => {
        process.off('SIGTERM', stop);
        process.off('SIGINT', stop);
        started.server.close(() => resolve());
        started.server.closeAllConnections();
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    });
    await dashboard.close();
    await lockStore.close();
    return 0;
  },
};
