/**
 * The dashboard's remote control: halt or resume a rollout, release a stuck reboot slot.
 * Each needs an operator (the lock server's operator role: a client certificate or bearer
 * token whose name is in --operators), a JSON body whose `confirm` repeats the target (the
 * page's confirmation, checked here so no client can skip it), and leaves an audit record
 * in etcd saying who, when, what and how it ended, whatever the outcome.
 */
import { identify, type FleetLockAuth, type Identity, type RequestCredentials } from '../lock/fleetlock-auth.js';
import { KeelError } from '../errors.js';
import { haltMessage } from '../fleet/rollout-record.js';
import type { AuditAction, AuditRecord } from './audit-record.js';
import { auditSchema } from './audit-record.js';
import type { DashboardBackend } from './dashboard-backend.js';

/** An answer: HTTP status and JSON body (errors are `{kind, value}`, as the lock server's). */
export interface Answer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export const maxReasonLength = 500;

/** The operator behind a request, or the 401/403 answer. */
export function operatorOf(auth: FleetLockAuth | undefined, credentials: RequestCredentials): { who: Identity } | { refused: Answer } {
  if (!auth || auth.operators.size === 0)
    return { refused: { status: 403, body: { kind: 'actions_disabled', value: 'this server names no operators (start it with --tokens or --client-ca, and --operators); the dashboard is read-only' } } };
  const who = identify(auth, credentials);
  if (!who) {
    const ways = [auth.clientCerts ? 'a client certificate signed by the server\'s client CA' : '', auth.tokens.length ? "an 'authorization: Bearer TOKEN' header" : ''].filter(Boolean).join(' or ');
    return { refused: { status: 401, body: { kind: 'unauthenticated', value: `expected ${ways}, found none that the server accepts` }, headers: auth.tokens.length ? { 'www-authenticate': 'Bearer realm="keel"' } : {} } };
  }
  if (!auth.operators.has(who.name)) return { refused: { status: 403, body: { kind: 'forbidden', value: `${who.via} ${JSON.stringify(who.name)} is not an operator; only --operators may halt, resume or release` } } };
  return { who };
}

export interface ActionRequest {
  action: AuditAction;
  group: string;
  /** The version (halt, resume) or the holder id (release). */
  target: string;
  body: string;
}

const bad = (value: string): Answer => ({ status: 400, body: { kind: 'bad_request', value } });

/** The body's `confirm` and `reason`, checked; an Answer when they are wrong. */
export function readActionBody(request: ActionRequest): { reason?: string } | Answer {
  let data: unknown;
  try {
    data = JSON.parse(request.body);
  } catch {
    return bad('expected a JSON object body, found unparsable text');
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return bad(`expected a JSON object body, found ${Array.isArray(data) ? 'an array' : typeof data}`);
  const { confirm, reason } = data as Record<string, unknown>;
  if (confirm !== request.target)
    return { status: 400, body: { kind: 'confirmation_required', value: `expected "confirm": ${JSON.stringify(request.target)} (the ${request.action === 'release' ? 'holder' : 'version'} again), found ${JSON.stringify(confirm)?.slice(0, 80) ?? 'nothing'}; nothing was changed` } };
  if (request.action !== 'halt') return {};
  if (typeof reason !== 'string' || reason.trim() === '') return bad('expected "reason": a non-empty string saying why the rollout halts');
  if (reason.length > maxReasonLength || /[\u0000-\u001f\u007f]/.test(reason)) return bad(`expected a reason of at most ${maxReasonLength} characters on one line, found ${reason.length} characters${/[\u0000-\u001f\u007f]/.test(reason) ? ' with control characters' : ''}`);
  return { reason: reason.trim() };
}

/** Performs the action for `who`, writes its audit record, and answers. */
export async function performAction(backend: DashboardBackend, request: ActionRequest, who: Identity, at: string): Promise<Answer> {
  const body = readActionBody(request);
  if ('status' in body) return body;
  const { action, group, target } = request;
  let answer: Answer;
  let result: string;
  try {
    if (action === 'release') {
      const released = await backend.release(group, target);
      result = released ? 'changed' : 'unchanged: it held no slot';
      answer = { status: 200, body: { group, holder: target, changed: released } };
    } else {
      const change = action === 'halt' ? await backend.halt(group, target, body.reason!) : await backend.resume(group, target);
      const changed = change.ok && change.changed;
      result = changed ? 'changed' : action === 'halt' && change.record.halted ? `unchanged: already ${haltMessage(target, change.record.halted)}` : 'unchanged: it was not halted';
      answer = { status: 200, body: { group, version: target, changed, rollout: change.record } };
    }
  } catch (error) {
    const e = error instanceof KeelError ? error : new KeelError('internal', String((error as Error)?.message ?? error));
    result = `failed: ${e.message.split('\n')[0]}`;
    answer = e.kind === 'unavailable' ? { status: 503, body: { kind: 'etcd_unavailable', value: `${e.message.split('\n')[0]}; nothing is known to have changed, try again` } } : { status: e.kind === 'invalid-input' ? 409 : 500, body: { kind: e.kind === 'invalid-input' ? 'invalid_record' : 'internal_error', value: e.message.split('\n')[0] } };
  }
  const record: AuditRecord = { schema: auditSchema, at, who: { name: who.name, via: who.via }, action, target, ...(body.reason ? { reason: body.reason } : {}), result };
  try {
    await backend.audit(group, record);
  } catch (error) {
    // The action happened (or failed) either way: say that its trail is missing rather than hide it.
    if (answer.status === 200) answer = { status: 200, body: { ...(answer.body as object), auditWarning: `the audit record was not written: ${(error as Error).message.split('\n')[0]}` } };
  }
  return answer;
}
