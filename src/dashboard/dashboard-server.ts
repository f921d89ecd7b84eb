/**
 * The dashboard as an HTTP handler (mountable beside the FleetLock server) and as a server
 * of its own (`keel fleet serve`). Nothing a client sends may end it: every listener runs
 * guarded (a throw is a 500 and a log line), bodies are bounded, the parser's refusals are
 * answered by `listener-guard.ts`. Every answer carries a strict Content-Security-Policy.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FleetLockAuth } from '../lock/fleetlock-auth.js';
import type { Logger } from '../log.js';
import { certificateName, guarded } from '../host/request-guard.js';
import { operatorOf, performAction, type Answer } from './dashboard-actions.js';
import type { DashboardBackend } from './dashboard-backend.js';
import type { DashboardView } from './dashboard-view.js';
import { dashboardMetrics } from './dashboard-metrics.js';
import { matchRoute, type Route } from './dashboard-routes.js';
import { FleetFeed } from './fleet-feed.js';
import { contentSecurityPolicy, pageHtml } from './page-html.js';
import { pageScript } from './page-script.js';
import { pageCss } from './page-style.js';
import { SseHub } from './sse-hub.js';

export interface DashboardOptions {
  backend: DashboardBackend;
  groups: readonly string[];
  /** The lock server's authentication; actions need an identity in its operators. Undefined: read-only. */
  auth?: FleetLockAuth;
  log?: Logger;
  now?: () => number;
  maxStreams?: number;
  /** First pause before reading etcd again after a failure (tests shorten it). */
  retryMs?: number;
}

export interface Dashboard {
  handle(req: IncomingMessage, res: ServerResponse): void;
  feed: FleetFeed;
  /** Reads every group and starts the watches; resolves even while etcd is away. */
  start(): Promise<void>;
  close(): Promise<void>;
}

const maxBodyBytes = 16 * 1024;
const common = { 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', 'content-security-policy': contentSecurityPolicy };

function send(res: ServerResponse, status: number, body: string, type: string, extra: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { ...common, 'content-type': type, 'content-length': Buffer.byteLength(body), ...extra });
  res.end(body);
}

function sendJson(res: ServerResponse, answer: Answer): void {
  send(res, answer.status, JSON.stringify(answer.body), 'application/json; charset=utf-8', { 'cache-control': 'no-store', ...answer.headers });
}

/** A cross-site page must not drive an operator's browser (client certificates are sent by it unasked). */
function crossOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return false;
  try {
    return new URL(origin).host !== req.headers.host;
  } catch {
    return true;
  }
}

const unknownGroup = (groups: readonly string[], group: string): Answer => ({ status: 404, body: { kind: 'not_found', value: `group ${JSON.stringify(group)} is not served here (served: ${groups.join(', ')})` } });

/** The JSON answers that are read from the present view. */
function viewAnswer(view: DashboardView, groups: readonly string[], route: Extract<Route, { kind: 'view' | 'groups' | 'group' | 'node' }>): Answer {
  if (route.kind === 'view') return { status: 200, body: view };
  if (route.kind === 'groups') return { status: 200, body: { etcd: view.etcd, groups: groups.map((g) => ({ group: g, nodes: view.groups.find((v) => v.group === g)?.nodes.length ?? null })) } };
  if (!groups.includes(route.group)) return unknownGroup(groups, route.group);
  const g = view.groups.find((v) => v.group === route.group);
  if (!g) return { status: 503, body: { kind: 'etcd_unavailable', value: `group ${route.group} has not been read from etcd yet: ${view.etcd.error ?? ''}` } };
  if (route.kind === 'group') return { status: 200, body: g };
  const node = g.nodes.find((n) => n.machineId === route.machineId);
  return node ? { status: 200, body: node } : { status: 404, body: { kind: 'not_found', value: `no node ${JSON.stringify(route.machineId)} in group ${route.group}` } };
}

/** An action's checks in order (group, content type, origin, operator), then the action itself. */
async function actionAnswer(o: DashboardOptions, at: string, req: IncomingMessage, route: Extract<Route, { kind: 'action' }>, body: string): Promise<Answer> {
  if (!o.groups.includes(route.group)) return unknownGroup(o.groups, route.group);
  if (!/^application\/json\s*(;|$)/i.test(req.headers['content-type'] ?? '')) return { status: 415, body: { kind: 'unsupported_media_type', value: `expected content-type: application/json, found ${JSON.stringify(req.headers['content-type'] ?? 'none').slice(0, 80)}` } };
  if (crossOrigin(req)) return { status: 403, body: { kind: 'cross_origin', value: "expected a request from this dashboard's own page, found another origin; nothing was changed" } };
  const operator = operatorOf(o.auth, { authorization: req.headers.authorization, certificateName: certificateName(req) });
  if ('refused' in operator) {
    o.log?.info(`dashboard: ${route.action} ${route.target} in group '${route.group}' refused: ${(operator.refused.body as { kind: string }).kind}`);
    return operator.refused;
  }
  const answer = await performAction(o.backend, { action: route.action, group: route.group, target: route.target, body }, operator.who, at);
  o.log?.notice(`dashboard: ${operator.who.via} ${operator.who.name}: ${route.action} ${route.target} in group '${route.group}': ${answer.status}`);
  return answer;
}

export function createDashboard(o: DashboardOptions): Dashboard {
  const now = o.now ?? Date.now;
  const feed = new FleetFeed(o.backend, o.groups, { now, ...(o.log ? { log: o.log } : {}), ...(o.retryMs !== undefined ? { retryMs: o.retryMs } : {}) });
  const hub = new SseHub({ maxClients: o.maxStreams ?? 200 });
  feed.subscribe((view) => hub.send(view));
  const metrics = dashboardMetrics(() => feed.view(), now);
  const statics = { page: [pageHtml, 'text/html'], script: [pageScript, 'text/javascript'], style: [pageCss, 'text/css'] } as const;

  const answer = async (req: IncomingMessage, res: ServerResponse, route: Route, body: string) => {
    switch (route.kind) {
      case 'page':
      case 'script':
      case 'style':
        return send(res, 200, statics[route.kind][0], `${statics[route.kind][1]}; charset=utf-8`, { 'cache-control': 'no-cache' });
      case 'events':
        res.setHeader('content-security-policy', contentSecurityPolicy);
        hub.open(res, feed.view());
        return;
      case 'metrics':
        return send(res, 200, await metrics.metrics(), metrics.contentType, { 'cache-control': 'no-store' });
      case 'action':
        sendJson(res, await actionAnswer(o, new Date(now()).toISOString(), req, route, body));
        return feed.changed(route.group);
      default:
        return sendJson(res, viewAnswer(feed.view(), o.groups, route));
    }
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const route = matchRoute(req.method ?? 'GET', req.url ?? '/');
    req.on('error', guarded(res, 'dashboard', o.log, (error: Error) => o.log?.debug(`dashboard: request stream: ${error.message}`)));
    res.on('error', guarded(res, 'dashboard', o.log, (error: Error) => o.log?.debug(`dashboard: response stream: ${error.message}`)));
    if ('status' in route) {
      req.resume();
      return sendJson(res, route);
    }
    if (route.kind !== 'action') {
      req.resume();
      return guarded(res, 'dashboard', o.log, () => answer(req, res, route, ''))();
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', guarded(res, 'dashboard', o.log, (chunk: Buffer) => {
      if (size > maxBodyBytes) return;
      size += chunk.length;
      if (size <= maxBodyBytes) return void chunks.push(chunk);
      sendJson(res, { status: 413, body: { kind: 'body_too_large', value: `expected a body under ${maxBodyBytes} bytes` } });
      req.destroy();
    }));
    req.on('end', guarded(res, 'dashboard', o.log, () => (res.headersSent ? undefined : answer(req, res, route, Buffer.concat(chunks).toString('utf8')))));
  };

  return {
    handle,
    feed,
    start: () => feed.start(),
    async close() {
      hub.close();
      await feed.close();
      await o.backend.close();
    },
  };
}
