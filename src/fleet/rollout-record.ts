/**
 * A rollout record per target version: which nodes started it, succeeded and failed (each
 * by machine id), and whether it is halted, with the reason and the node and error that
 * tripped the brake. The transitions are pure; the store applies them with a
 * compare-and-swap, so two nodes failing at once are both counted. Every transition is
 * idempotent for a machine id: a step repeated after a lost reply changes nothing.
 *
 * Stored in two parts so that a 10,000-node rollout stays cheap: the value under
 * `rollouts/<version>` holds the failures and the halt (small: the brake stops it growing),
 * and each start and success is a marker key of its own below it. One value listing every
 * node measured 682 KiB and ~50 ms a compare-and-swap at 10,000 nodes, and every start
 * and success contended for it.
 */
import { type Fields, FieldProblem, list, obj, objectOf, optObj, optStr, readRecord, str, time } from './record-fields.js';
import { machineIdProblem } from './fleet-keys.js';
import { failureLimit, formatMaxFailures, type RolloutPolicy } from './rollout-policy.js';

export const rolloutSchema = 'keel.fleet.rollout/v1';

export interface FailedNode {
  machineId: string;
  error: string;
  at: string;
}

export interface Halt {
  at: string;
  reason: string;
  /** `policy`: failures reached max_failures; `operator`: `keel fleet halt`. */
  by: 'policy' | 'operator';
  /** The node and error that tripped the brake (policy halts). */
  machineId?: string;
  error?: string;
}

export interface RolloutRecord {
  schema: typeof rolloutSchema;
  version: string;
  started: string[];
  succeeded: string[];
  failed: FailedNode[];
  halted?: Halt;
  updatedAt: string;
}

/** A transition's answer: the new record and whether it differs, or a refusal saying why. */
export type RolloutStep = { ok: true; record: RolloutRecord; changed: boolean } | { ok: false; reason: string };

export function newRollout(version: string, at: string): RolloutRecord {
  return { schema: rolloutSchema, version, started: [], succeeded: [], failed: [], updatedAt: at };
}

const same = (record: RolloutRecord): RolloutStep => ({ ok: true, record, changed: false });
const next = (record: RolloutRecord): RolloutStep => ({ ok: true, record, changed: true });

/** The sentence for a halt, for refusals and the status line. */
export function haltMessage(version: string, h: Halt): string {
  const tripped = h.machineId ? ` (tripped by ${h.machineId}${h.error ? `: ${h.error}` : ''})` : '';
  return `rollout of ${version} is halted since ${h.at} by ${h.by}: ${h.reason}${tripped}`;
}

/** A node takes a reboot slot for this version; refused while the rollout is halted. */
export function recordStarted(r: RolloutRecord, machineId: string, at: string): RolloutStep {
  if (r.halted) return { ok: false, reason: `${haltMessage(r.version, r.halted)}; not rebooting into it` };
  if (r.started.includes(machineId)) return same(r);
  return next({ ...r, started: [...r.started, machineId], updatedAt: at });
}

/** A node passed its health gate on this version. Allowed while halted: it was already past the brake. */
export function recordSucceeded(r: RolloutRecord, machineId: string, at: string): RolloutStep {
  if (r.succeeded.includes(machineId)) return same(r);
  const started = r.started.includes(machineId) ? r.started : [...r.started, machineId];
  return next({ ...r, started, succeeded: [...r.succeeded, machineId], updatedAt: at });
}

/**
 * A node failed on this version (rolled back, failed its health gate, or missed the health
 * deadline). When the failures reach the policy's limit for a group of `groupSize` nodes,
 * the rollout halts naming this node and its error. A failure stays counted after a
 * resume, so the next one halts again: resuming is for a cause that was not the release.
 */
export function recordFailed(r: RolloutRecord, failure: FailedNode, policy: RolloutPolicy, groupSize: number): RolloutStep {
  const known = r.failed.some((f) => f.machineId === failure.machineId);
  const failed = known ? r.failed : [...r.failed, failure];
  const started = r.started.includes(failure.machineId) ? r.started : [...r.started, failure.machineId];
  const limit = failureLimit(policy.maxFailures, groupSize);
  const trips = !r.halted && failed.length >= limit;
  if (known && !trips) return same(r);
  const record: RolloutRecord = { ...r, started, failed, updatedAt: failure.at };
  if (trips)
    record.halted = {
      at: failure.at,
      by: 'policy',
      reason: `${failed.length} of ${groupSize} node${groupSize === 1 ? '' : 's'} failed, reaching max_failures ${formatMaxFailures(policy.maxFailures)}${policy.maxFailures.kind === 'percent' ? ` (${limit} node${limit === 1 ? '' : 's'})` : ''}`,
      machineId: failure.machineId,
      error: failure.error,
    };
  return next(record);
}

/** An operator halts the rollout; a halted one keeps its first halt (the one that explains it). */
export function halt(r: RolloutRecord, reason: string, at: string): RolloutStep {
  if (r.halted) return same(r);
  return next({ ...r, halted: { at, by: 'operator', reason }, updatedAt: at });
}

/** Lifts a halt; a rollout that is not halted is left as it is. */
export function resume(r: RolloutRecord, at: string): RolloutStep {
  if (!r.halted) return same(r);
  const { halted: _lifted, ...rest } = r;
  return next({ ...rest, updatedAt: at });
}

/** The stored value under `rollouts/<version>`: the record without its marks (they are keys of their own). */
export function formatRolloutRecord(r: RolloutRecord): string {
  const { started: _s, succeeded: _ok, ...core } = r;
  return JSON.stringify(core);
}

/** The record with marker keys' machine ids added to its lists (each once, in the order given). */
export function withMarks(r: RolloutRecord, started: Iterable<string>, succeeded: Iterable<string>): RolloutRecord {
  return { ...r, started: [...new Set([...r.started, ...started])], succeeded: [...new Set([...r.succeeded, ...succeeded])] };
}

/** What a transition changed, as the store writes it: new marks, and whether the stored value changed. */
export function rolloutDiff(before: RolloutRecord, after: RolloutRecord): { started: string[]; succeeded: string[]; value: boolean } {
  return {
    started: after.started.filter((id) => !before.started.includes(id)),
    succeeded: after.succeeded.filter((id) => !before.succeeded.includes(id)),
    value: formatRolloutRecord({ ...before, updatedAt: '' }) !== formatRolloutRecord({ ...after, updatedAt: '' }),
  };
}

/** A list of machine ids; absent is empty (the stored value keeps them as marker keys). */
function ids(f: Fields, name: string): string[] {
  if (f[name] === undefined) return [];
  const out = list(f, name).map((v, i) => {
    if (typeof v !== 'string' || machineIdProblem(v)) throw new FieldProblem(`${name}[${i}]: expected a machine id, found ${JSON.stringify(v)?.slice(0, 40)}`);
    return v;
  });
  return [...new Set(out)];
}

function readRollout(f: Fields, expectedVersion: string | undefined): RolloutRecord {
  if (f.schema !== rolloutSchema) throw new FieldProblem(`schema: expected ${JSON.stringify(rolloutSchema)}, found ${JSON.stringify(f.schema)?.slice(0, 60) ?? 'nothing'} (a foreign or newer record)`);
  const version = str(f, 'version');
  if (expectedVersion !== undefined && version !== expectedVersion) throw new FieldProblem(`version: expected ${JSON.stringify(expectedVersion)} (the key's), found ${JSON.stringify(version).slice(0, 60)}`);
  const failed = list(f, 'failed').map((v, i) => {
    const o = obj({ v }, 'v', `failed[${i}]`);
    const machineId = str(o, 'machineId', `failed[${i}].machineId`);
    if (machineIdProblem(machineId)) throw new FieldProblem(`failed[${i}].machineId: ${machineIdProblem(machineId)}`);
    return { machineId, error: str(o, 'error', `failed[${i}].error`), at: time(o, 'at', `failed[${i}].at`) };
  });
  const record: RolloutRecord = { schema: rolloutSchema, version, started: ids(f, 'started'), succeeded: ids(f, 'succeeded'), failed, updatedAt: time(f, 'updatedAt') };
  const h = optObj(f, 'halted');
  if (h) {
    const by = h.by;
    if (by !== 'policy' && by !== 'operator') throw new FieldProblem(`halted.by: expected policy or operator, found ${JSON.stringify(by)?.slice(0, 40) ?? 'nothing'}`);
    record.halted = { at: time(h, 'at', 'halted.at'), by, reason: str(h, 'reason', 'halted.reason') };
    const machineId = optStr(h, 'machineId', 'halted.machineId');
    const error = optStr(h, 'error', 'halted.error');
    if (machineId !== undefined) record.halted.machineId = machineId;
    if (error !== undefined) record.halted.error = error;
  }
  return record;
}

/** Reads a rollout record stored under `key`; malformed or foreign is a warning naming the key. */
export function readRolloutRecord(key: string, text: string, version?: string): { record: RolloutRecord } | { warning: string } {
  return readRecord(key, 'rollout record', () => readRollout(objectOf(text), version));
}
