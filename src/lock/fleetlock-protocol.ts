/**
 * The FleetLock protocol (Zincati's reboot lock over HTTP), pure: request checks and the
 * `{kind, value}` error answers. `POST <base>/v1/pre-reboot` takes a slot,
 * `POST <base>/v1/steady-state` gives it back; both need the header
 * `fleet-lock-protocol: true` and the body `{"client_params":{"id":…,"group":…}}`, and
 * answer 200 on success. keel adds `GET <base>/v1/status?group=G` for `keel lock status`.
 */
import { groupProblem } from './group-keys.js';
import { idProblem } from './semaphore.js';

export type FleetLockOperation = 'pre-reboot' | 'steady-state' | 'status';

/** An error answer: HTTP status plus the protocol's JSON body. */
export interface FleetLockError {
  status: number;
  kind: string;
  value: string;
}

export type ParsedRequest = { ok: true; operation: FleetLockOperation; id: string; group: string } | { ok: false; error: FleetLockError };

export const protocolHeader = 'fleet-lock-protocol';

/** The JSON body a client sends. */
export function requestBody(id: string, group: string): string {
  return JSON.stringify({ client_params: { id, group } });
}

const fail = (status: number, kind: string, value: string): ParsedRequest => ({ ok: false, error: { status, kind, value } });

/**
 * The request target as a URL, or undefined when it is not one: origin-form (`/path?q`)
 * and absolute-form (`http://host/path`) only. `new URL` throws on many absolute-form
 * targets a client may send (`http://%zz/`, `http://[/`, `http://x:99999/`), and a throw
 * in a request listener once ended the server; here it is an answer.
 */
export function parseTarget(target: string): URL | undefined {
  try {
    if (target.startsWith('/')) return new URL(`http://fleetlock.invalid${target}`);
    const url = new URL(target);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : undefined;
  } catch {
    return undefined;
  }
}

/** Checks method, path, header and body of a request to the server under `base` (no trailing slash). */
export function parseRequest(req: { method: string; url: string; headers: Record<string, string | string[] | undefined>; body: string }, base = ''): ParsedRequest {
  const url = parseTarget(req.url);
  if (!url) return fail(400, 'bad_request_target', `expected a request target like ${base}/v1/pre-reboot, found ${JSON.stringify(req.url.slice(0, 200))}`);
  const path = url.pathname.startsWith(base) ? url.pathname.slice(base.length) : undefined;
  const operation = path === '/v1/pre-reboot' ? 'pre-reboot' : path === '/v1/steady-state' ? 'steady-state' : path === '/v1/status' ? 'status' : undefined;
  if (!operation) return fail(404, 'not_found', `no such endpoint ${url.pathname}; expected ${base}/v1/pre-reboot or ${base}/v1/steady-state`);
  if (operation === 'status') {
    if (req.method !== 'GET') return fail(405, 'method_not_allowed', `expected GET for ${url.pathname}, found ${req.method}`);
    const group = url.searchParams.get('group') ?? 'default';
    const problem = groupProblem(group);
    if (problem) return fail(400, 'invalid_group', `group: ${problem}`);
    return { ok: true, operation, id: '', group };
  }
  if (req.method !== 'POST') return fail(405, 'method_not_allowed', `expected POST for ${url.pathname}, found ${req.method}`);
  const header = req.headers[protocolHeader];
  if ((Array.isArray(header) ? header[0] : header)?.toLowerCase() !== 'true')
    return fail(400, 'missing_fleet_lock_header', `expected the header '${protocolHeader}: true', found ${header === undefined ? 'none' : JSON.stringify(header)}`);
  let data: unknown;
  try {
    data = JSON.parse(req.body);
  } catch {
    return fail(400, 'malformed_body', 'expected a JSON body {"client_params":{"id":"…","group":"…"}}, found unparsable text');
  }
  const params = (data as { client_params?: unknown } | null)?.client_params as Record<string, unknown> | undefined;
  if (typeof params !== 'object' || params === null) return fail(400, 'malformed_body', 'expected client_params to be an object with id and group');
  // Early airlock clients sent node_uuid; Zincati sends id.
  const id = params.id ?? params.node_uuid;
  if (typeof id !== 'string' || id === '') return fail(400, 'invalid_client_id', `client_params.id: expected a non-empty string, found ${clip(id)}`);
  const idIssue = idProblem(id);
  if (idIssue) return fail(400, 'invalid_client_id', `client_params.id: ${idIssue}`);
  const group = params.group;
  if (typeof group !== 'string') return fail(400, 'invalid_group', `client_params.group: expected a string, found ${clip(group)}`);
  const groupIssue = groupProblem(group);
  if (groupIssue) return fail(400, 'invalid_group', `client_params.group: ${groupIssue}`);
  return { ok: true, operation, id, group };
}

/** A value for an error message, cut short: a client may send megabytes. */
function clip(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
