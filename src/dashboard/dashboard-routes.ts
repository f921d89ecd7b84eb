/**
 * The dashboard's URL space, as a pure match of method and request target: the page and its
 * two static files, `/api/v1/…` (JSON, documented in docs/dashboard.md), the event stream,
 * `/metrics`, and the three actions. Targets are parsed defensively: only origin-form paths
 * of bounded length, each segment decoded once and checked against the name rules of the
 * lock and fleet keys, so nothing a client sends reaches etcd as a path step.
 */
import { groupProblem } from '../lock/group-keys.js';
import { idProblem } from '../lock/semaphore.js';
import { machineIdProblem, versionProblem } from '../fleet/fleet-keys.js';
import type { AuditAction } from './audit-record.js';
import type { Answer } from './dashboard-actions.js';

type FixedKind = 'page' | 'script' | 'style' | 'view' | 'groups' | 'events' | 'metrics';

/** One member a kind, so `Extract<Route, { kind: … }>` narrows. */
export type Route =
  | { [K in FixedKind]: { kind: K } }[FixedKind]
  | { kind: 'group'; group: string }
  | { kind: 'node'; group: string; machineId: string }
  | { kind: 'action'; action: AuditAction; group: string; target: string };

export const maxTargetLength = 2048;

/** Paths the dashboard answers; on a shared listener (`keel lock serve --dashboard`) everything else is the lock's. */
export function isDashboardPath(url: string): boolean {
  const path = url.split('?')[0]!;
  return path === '/' || path === '/app.js' || path === '/app.css' || path === '/metrics' || path === '/api' || path.startsWith('/api/');
}

const notFound = (path: string): Answer => ({ status: 404, body: { kind: 'not_found', value: `no such page or endpoint: ${JSON.stringify(path.slice(0, 200))}; see /api/v1 in docs/dashboard.md` } });
const bad = (value: string): Answer => ({ status: 400, body: { kind: 'bad_request', value } });
const methodNotAllowed = (method: string, allowed: string): Answer => ({ status: 405, body: { kind: 'method_not_allowed', value: `expected ${allowed.replace(', ', ' or ')}, found ${method.slice(0, 20)}` }, headers: { allow: allowed } });

/** Decodes each path segment once; undefined when one is not valid percent-encoding. */
function segmentsOf(path: string): string[] | undefined {
  try {
    return path.split('/').slice(1).map((s) => decodeURIComponent(s));
  } catch {
    return undefined;
  }
}

function nameCheck(what: string, value: string, problem: string | undefined): Answer | undefined {
  return problem ? bad(`${what}: ${problem}`) : undefined;
}

/** The route for `method` and request target `url`, or the error answer (400, 404, 405). */
export function matchRoute(method: string, url: string): Route | Answer {
  if (url.length > maxTargetLength) return { status: 414, body: { kind: 'uri_too_long', value: `expected a request target under ${maxTargetLength} characters, found ${url.length}` } };
  if (!url.startsWith('/')) return bad(`expected a path starting with '/', found ${JSON.stringify(url.slice(0, 80))}`);
  const path = url.split('?')[0]!.split('#')[0]!;
  const segs = segmentsOf(path);
  if (!segs) return bad(`expected a path of valid percent-encoded segments, found ${JSON.stringify(path.slice(0, 200))}`);
  const get = (route: Route): Route | Answer => (method === 'GET' || method === 'HEAD' ? route : methodNotAllowed(method, 'GET, HEAD'));
  const post = (route: Route): Route | Answer => (method === 'POST' ? route : methodNotAllowed(method, 'POST'));
  const statics: Record<string, FixedKind> = { '/': 'page', '/app.js': 'script', '/app.css': 'style', '/metrics': 'metrics', '/api/v1/view': 'view', '/api/v1/groups': 'groups', '/api/v1/events': 'events' };
  const fixed = statics[path];
  if (fixed) return get({ kind: fixed });
  const [api, v1, groups, group, sub, name, verb, ...extra] = segs;
  if (api !== 'api' || v1 !== 'v1' || groups !== 'groups' || group === undefined || extra.length > 0) return notFound(path);
  const groupBad = nameCheck('group', group, groupProblem(group));
  if (groupBad) return groupBad;
  if (sub === undefined) return get({ kind: 'group', group });
  if (sub === 'nodes' && name !== undefined && verb === undefined) return nameCheck('machine id', name, machineIdProblem(name)) ?? get({ kind: 'node', group, machineId: name });
  if (sub === 'rollouts' && name !== undefined && (verb === 'halt' || verb === 'resume')) return nameCheck('version', name, versionProblem(name)) ?? post({ kind: 'action', action: verb, group, target: name });
  if (sub === 'slots' && name !== undefined && verb === 'release') return nameCheck('holder', name, idProblem(name)) ?? post({ kind: 'action', action: 'release', group, target: name });
  return notFound(path);
}
