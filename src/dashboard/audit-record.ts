/**
 * The audit trail of the dashboard's actions: one record a halt, resume or slot release,
 * under `/keel/fleet/<group>/audit/<time>-<random>`, saying who (the operator's certificate
 * or token name), when, what, on which target, and how it ended. The key sorts by time so
 * a prefix read lists the trail in order. Records are kept (no lease): an audit trail that
 * expires by itself is not one; `etcdctl del --prefix` trims it.
 */
import { fleetPrefix } from '../fleet/fleet-keys.js';
import { type Fields, FieldProblem, obj, objectOf, optStr, readRecord, str, time } from '../fleet/record-fields.js';

export const auditSchema = 'keel.fleet.audit/v1';

export type AuditAction = 'halt' | 'resume' | 'release';
const actions: readonly AuditAction[] = ['halt', 'resume', 'release'];

export interface AuditRecord {
  schema: typeof auditSchema;
  at: string;
  /** The operator: a client certificate's common name or a token's name. */
  who: { name: string; via: 'certificate' | 'token' };
  action: AuditAction;
  /** The rollout's version (halt, resume) or the slot holder's id (release). */
  target: string;
  reason?: string;
  /** What happened: `changed`, `unchanged`, or the refusal. */
  result: string;
}

/** `/keel/fleet/<group>/audit/`. */
export function auditPrefix(group: string): string {
  return `${fleetPrefix(group)}audit/`;
}

/** A key that sorts by time; the random part keeps two actions in one millisecond apart. */
export function auditKey(group: string, at: string, random: () => number): string {
  const suffix = Math.floor(random() * 0xffffffff).toString(16).padStart(8, '0');
  return `${auditPrefix(group)}${at}-${suffix}`;
}

export function formatAuditRecord(record: AuditRecord): string {
  return JSON.stringify(record);
}

function readAudit(f: Fields): AuditRecord {
  if (f.schema !== auditSchema) throw new FieldProblem(`schema: expected ${JSON.stringify(auditSchema)}, found ${JSON.stringify(f.schema)?.slice(0, 60) ?? 'nothing'}`);
  const who = obj(f, 'who');
  const via = who.via;
  if (via !== 'certificate' && via !== 'token') throw new FieldProblem(`who.via: expected certificate or token, found ${JSON.stringify(via)?.slice(0, 40) ?? 'nothing'}`);
  const action = f.action;
  if (!actions.includes(action as AuditAction)) throw new FieldProblem(`action: expected one of ${actions.join(', ')}, found ${JSON.stringify(action)?.slice(0, 40) ?? 'nothing'}`);
  const record: AuditRecord = {
    schema: auditSchema,
    at: time(f, 'at'),
    who: { name: str(who, 'name', 'who.name'), via },
    action: action as AuditAction,
    target: str(f, 'target'),
    result: str(f, 'result'),
  };
  const reason = optStr(f, 'reason');
  if (reason !== undefined) record.reason = reason;
  return record;
}

/** Reads an audit record stored under `key`; a malformed one is a warning naming the key. */
export function readAuditRecord(key: string, text: string): { record: AuditRecord } | { warning: string } {
  return readRecord(key, 'audit record', () => readAudit(objectOf(text)));
}
