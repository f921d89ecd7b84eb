/**
 * A node's record: what its update agent publishes under `/keel/fleet/<group>/nodes/<id>`
 * on every state change. JSON with a `schema` field so a reader can tell a future or foreign
 * record from a broken one; unknown fields are ignored (a newer agent may add some).
 */
import { type Fields, FieldProblem, maxFieldLength, objectOf, optObj, optStr, optTime, readRecord, str, time } from './record-fields.js';
import { machineIdProblem } from './fleet-keys.js';

export const nodeSchema = 'keel.fleet.node/v1';

/** The health gate's last verdict: after a reboot the slot is released only on `passed`. */
export type HealthVerdict = 'passed' | 'failed' | 'pending';
const verdicts: readonly HealthVerdict[] = ['passed', 'failed', 'pending'];

export interface NodeRecord {
  schema: typeof nodeSchema;
  machineId: string;
  hostname: string;
  /** The running version and the slot (a or b) it booted from. */
  version: string;
  slot: string;
  /** The update agent's state (its `kind`: steady, staged, rebooting…) and since when. */
  state: string;
  stateSince: string;
  /** A version written to the other slot and waiting for a reboot. */
  staged?: string;
  lastCheck?: string;
  lastError?: { message: string; at: string };
  health?: { verdict: HealthVerdict; at: string; detail?: string };
  /** Present while the node holds a reboot slot. */
  rebootSlot?: { since: string };
  /** When the agent wrote this record. */
  updatedAt: string;
}

/** What the agent knows; `nodeRecord` adds the schema and bounds the free text. */
export type NodeFacts = Omit<NodeRecord, 'schema'>;

/** A record from facts: error text cut to the length a reader accepts, so a long error never hides a node. */
export function nodeRecord(facts: NodeFacts): NodeRecord {
  const cut = (s: string) => (s.length > maxFieldLength ? `${s.slice(0, maxFieldLength - 3)}...` : s);
  const record: NodeRecord = { schema: nodeSchema, ...facts };
  if (facts.lastError) record.lastError = { ...facts.lastError, message: cut(facts.lastError.message) };
  if (facts.health?.detail !== undefined) record.health = { ...facts.health, detail: cut(facts.health.detail) };
  return record;
}

export function formatNodeRecord(record: NodeRecord): string {
  return JSON.stringify(record);
}

function readNode(f: Fields, expectedId: string | undefined): NodeRecord {
  if (f.schema !== nodeSchema) throw new FieldProblem(`schema: expected ${JSON.stringify(nodeSchema)}, found ${JSON.stringify(f.schema)?.slice(0, 60) ?? 'nothing'} (a foreign or newer record)`);
  const machineId = str(f, 'machineId');
  const idProblem = machineIdProblem(machineId);
  if (idProblem) throw new FieldProblem(`machineId: ${idProblem}`);
  if (expectedId !== undefined && machineId !== expectedId) throw new FieldProblem(`machineId: expected ${JSON.stringify(expectedId)} (the key's), found ${JSON.stringify(machineId)}`);
  const record: NodeRecord = {
    schema: nodeSchema,
    machineId,
    hostname: str(f, 'hostname'),
    version: str(f, 'version'),
    slot: str(f, 'slot'),
    state: str(f, 'state'),
    stateSince: time(f, 'stateSince'),
    updatedAt: time(f, 'updatedAt'),
  };
  const staged = optStr(f, 'staged');
  if (staged !== undefined) record.staged = staged;
  const lastCheck = optTime(f, 'lastCheck');
  if (lastCheck !== undefined) record.lastCheck = lastCheck;
  const lastError = optObj(f, 'lastError');
  if (lastError) record.lastError = { message: str(lastError, 'message', 'lastError.message'), at: time(lastError, 'at', 'lastError.at') };
  const health = optObj(f, 'health');
  if (health) {
    const verdict = health.verdict;
    if (!verdicts.includes(verdict as HealthVerdict)) throw new FieldProblem(`health.verdict: expected one of ${verdicts.join(', ')}, found ${JSON.stringify(verdict)?.slice(0, 40) ?? 'nothing'}`);
    record.health = { verdict: verdict as HealthVerdict, at: time(health, 'at', 'health.at') };
    const detail = optStr(health, 'detail', 'health.detail');
    if (detail !== undefined) record.health.detail = detail;
  }
  const slot = optObj(f, 'rebootSlot');
  if (slot) record.rebootSlot = { since: time(slot, 'since', 'rebootSlot.since') };
  return record;
}

/**
 * Reads a node record stored under `key`; a malformed or foreign one is a warning naming the
 * key, never an exception. `machineId` (the key's) must match the record's.
 */
export function readNodeRecord(key: string, text: string, machineId?: string): { record: NodeRecord } | { warning: string } {
  return readRecord(key, 'node record', () => readNode(objectOf(text), machineId));
}
