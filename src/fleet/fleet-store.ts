/**
 * size: the fleet's one etcd edge: rollout changes, group reads at one revision and watches share its retry and range helpers
 * The fleet's etcd edge: node records (published through NodePublisher), rollout records
 * changed by compare-and-swap on their mod revision, a whole group read at one revision for
 * `keel fleet status`, and watches for `--watch`. The connection is the lock's
 * (`etcdOptions`: deadlines, breaker, retry, TLS, auth); an agent process may pass the
 * client it already has, so one gRPC channel serves its lock and its records.
 */
import { Etcd3, type IOptions } from 'etcd3';
import { KeelError } from '../errors.js';
import { backoffDelayMs, jitteredDelayMs, sleep } from '../backoff.js';
import type { Logger } from '../log.js';
import { etcdError, etcdOptions, type EtcdConnection } from '../lock/etcd-connection.js';
import { holdersPrefix, semaphoreKey } from '../lock/group-keys.js';
import { riderOps } from '../lock/rider-ops.js';
import { attentionPrefix, fleetPrefix, nodesPrefix, parseFleetKey, rolloutKey, rolloutMarkKey, rolloutMarksPrefix } from './fleet-keys.js';
import type { FleetInput } from './fleet-status.js';
import { watchGroup } from './group-watch.js';
import type { NodeRecord } from './node-record.js';
import { NodePublisher, type NodePublisherOptions } from './node-publisher.js';
import type { RolloutPolicy } from './rollout-policy.js';
import { formatRolloutRecord, halt, newRollout, readRolloutRecord, recordFailed, recordStarted, recordSucceeded, resume, rolloutDiff, withMarks, type Halt, type RolloutRecord, type RolloutStep } from './rollout-record.js';

export interface FleetStoreOptions extends NodePublisherOptions {
  /** How long one rollout change keeps retrying an etcd that does not answer. Default 30 s. */
  operationTimeoutMs?: number;
  random?: () => number;
  log?: Logger;
}

/** The answer to a rollout change: the record as written (or as found: the stored value with the changing node's own marks only), and how many tries it took. */
export type RolloutChange = ({ ok: true; changed: boolean } | { ok: false; reason: string }) & { record: RolloutRecord; attempts: number };

/** What a transition needs besides the record: the live group size (for a percentage) and the time. */
export interface StepContext {
  groupSize: number;
  at: string;
}

/** A group read at one etcd revision. */
export interface FleetRead {
  input: FleetInput;
  revision: number;
}

/**
 * Responses hold whole groups: 10,000 records of ~400 bytes pass gRPC's 4 MiB default. A
 * read this large is for status only; agents read single keys.
 */
const maxReceiveBytes = 64 * 1024 * 1024;

/** A rollout change's pause after a lost race: random, up to 2, 4, 8 … 50 ms (full jitter). */
const lostRacePause = { initialDelayMs: 2, maxDelayMs: 50 };
/** A rollout change's pause after an etcd error: 50, 100 … 1000 ms, jittered. */
const errorPause = { initialDelayMs: 25, maxDelayMs: 1000 };

/** The lock's connection options, with room for a whole group in one response. */
export function fleetEtcdOptions(connection: EtcdConnection): IOptions {
  const options = etcdOptions(connection);
  return { ...options, grpcOptions: { ...options.grpcOptions, 'grpc.max_receive_message_length': maxReceiveBytes } };
}

export class FleetStore {
  readonly client: Etcd3;
  private readonly ownsClient: boolean;
  private readonly publisher: NodePublisher;
  private readonly now: () => number;
  private readonly random: () => number;

  constructor(
    connection: EtcdConnection | { client: Etcd3 },
    private readonly options: FleetStoreOptions = {},
  ) {
    this.ownsClient = !('client' in connection);
    this.client = 'client' in connection ? connection.client : new Etcd3(fleetEtcdOptions(connection));
    this.publisher = new NodePublisher(this.client, options);
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
  }

  /** Writes a node's record (on every state change of its agent). */
  publishNode(group: string, record: NodeRecord): Promise<void> {
    return this.publisher.publish(group, record);
  }

  /** The lease of this store's node records, for other keys that should go when the node does (its lock queue key). */
  nodeLeaseId(): Promise<string> {
    return this.publisher.leaseId();
  }

  /** Removes a node's live record; its lost copy stays for the day. */
  withdrawNode(group: string, machineId: string): Promise<void> {
    return this.publisher.withdraw(group, machineId);
  }

  /** The rollout record of `version` with every node's marks, undefined when there is none; a malformed one is 'invalid-input' naming the key. */
  async readRollout(group: string, version: string): Promise<RolloutRecord | undefined> {
    const res = await this.ranges(`reading ${rolloutKey(group, version)}`, [range(rolloutKey(group, version)), range(rolloutMarksPrefix(group, version), true)]);
    const core = this.core(group, version, res[0]![0]);
    const marks = { started: [] as string[], succeeded: [] as string[] };
    for (const kv of res[1]!) {
      const parsed = parseFleetKey(group, kv.key.toString('utf8'));
      if (parsed?.kind === 'mark') marks[parsed.mark].push(parsed.machineId);
    }
    if (!core.record && marks.started.length + marks.succeeded.length === 0) return undefined;
    return withMarks(core.record ?? newRollout(version, new Date(this.now()).toISOString()), marks.started, marks.succeeded);
  }

  /** The halt of `version`'s rollout, if it is halted: one key, no marks (an agent asks before every try for a reboot slot). */
  async readHalt(group: string, version: string): Promise<Halt | undefined> {
    const res = await this.ranges(`reading ${rolloutKey(group, version)}`, [range(rolloutKey(group, version))]);
    return this.core(group, version, res[0]![0]).record?.halted;
  }

  /** One read of several ranges at one revision: the kvs of each. */
  private async ranges(doing: string, requests: ReturnType<typeof range>[]): Promise<{ key: Buffer; value: Buffer; mod_revision: string }[][]> {
    try {
      const res = await this.client.kv.txn({ compare: [], success: requests, failure: [] });
      return requests.map((_, i) => (res.responses[i]?.response_range?.kvs ?? []) as { key: Buffer; value: Buffer; mod_revision: string }[]);
    } catch (error) {
      throw etcdError(error, doing);
    }
  }

  /** The stored value of a rollout and its mod revision (0 when absent). */
  private core(group: string, version: string, kv: { value: Buffer; mod_revision: string } | undefined): { record: RolloutRecord | undefined; modRevision: number } {
    if (!kv) return { record: undefined, modRevision: 0 };
    const key = rolloutKey(group, version);
    const read = readRolloutRecord(key, kv.value.toString('utf8'), version);
    // Overwriting a record keel cannot read would lose its counts: refuse and name it.
    if ('warning' in read) throw new KeelError('invalid-input', `${read.warning.replace(/; skipping this rollout record$/, '')}; refusing to change it (delete the key to start this rollout afresh)`);
    return { record: read.record, modRevision: Number(kv.mod_revision) };
  }

  private async groupSize(group: string): Promise<number> {
    try {
      return await this.client.getAll().prefix(nodesPrefix(group)).count();
    } catch (error) {
      throw etcdError(error, `counting ${nodesPrefix(group)}`);
    }
  }

  /**
   * Applies `step` to the rollout record with a compare-and-swap on the mod revision of its
   * stored value; a lost race reads again and re-applies, so concurrent changes are all kept.
   * The step sees the stored value plus `machineId`'s own marks (not every node's: a start
   * reads three keys, not ten thousand). New marks are written in the same transaction,
   * guarded by the same comparison, so a start never lands after a halt it did not see;
   * marks alone leave the value as it is, so starts and successes do not contend.
   * etcd errors are retried until the operation deadline; a change whose reply was lost is
   * applied again harmlessly (every transition is idempotent per node).
   */
  async changeRollout(group: string, version: string, step: (current: RolloutRecord, context: StepContext) => RolloutStep, options: { machineId?: string; needsGroupSize?: boolean } = {}): Promise<RolloutChange> {
    const key = rolloutKey(group, version);
    const id = options.machineId;
    const deadline = this.now() + (this.options.operationTimeoutMs ?? 30_000);
    for (let attempts = 1; ; attempts++) {
      try {
        const reads = [range(key), ...(id ? [range(rolloutMarkKey(group, version, 'started', id)), range(rolloutMarkKey(group, version, 'succeeded', id))] : [])];
        const [coreKvs, startedKvs = [], succeededKvs = []] = await this.ranges(`reading ${key}`, reads);
        const { record, modRevision } = this.core(group, version, coreKvs![0]);
        const at = new Date(this.now()).toISOString();
        const groupSize = options.needsGroupSize ? await this.groupSize(group) : 0;
        const mine = (kvs: unknown[]) => (id && kvs.length > 0 ? [id] : []);
        const current = withMarks(record ?? newRollout(version, at), mine(startedKvs), mine(succeededKvs));
        const result = step(current, { groupSize, at });
        if (!result.ok) return { ok: false, reason: result.reason, record: current, attempts };
        const diff = rolloutDiff(current, result.record);
        if (!result.changed || (!diff.value && diff.started.length + diff.succeeded.length === 0)) return { ok: true, changed: false, record: current, attempts };
        const puts = [
          ...(diff.value ? [this.client.put(key).value(formatRolloutRecord(result.record))] : []),
          ...diff.started.map((m) => this.client.put(rolloutMarkKey(group, version, 'started', m)).value(at)),
          ...diff.succeeded.map((m) => this.client.put(rolloutMarkKey(group, version, 'succeeded', m)).value(at)),
        ];
        const txn = await this.client.if(key, 'Mod', '==', modRevision).then(...puts).commit();
        if (txn.succeeded) return { ok: true, changed: true, record: result.record, attempts };
        // Lost the race: a short random pause keeps many writers of one key from moving in lockstep.
        await sleep(this.random() * backoffDelayMs(attempts, lostRacePause));
      } catch (error) {
        const e = etcdError(error, `changing ${key}`);
        if (e.kind !== 'unavailable' || this.now() >= deadline) throw e;
        this.options.log?.debug(`${e.message}; retrying`);
        await sleep(jitteredDelayMs(attempts, this.random, errorPause));
      }
    }
  }

  /**
   * This node takes a reboot slot for `version`; `ok: false` when the rollout is halted.
   * Most rollouts have no stored value (nothing failed, nothing halted): then the mark goes
   * in with one transaction guarded by that absence and its own, on the reboot path of every
   * node. Otherwise (or on any error) it is a change as any other: read, then swap.
   */
  async recordStarted(group: string, version: string, machineId: string): Promise<RolloutChange> {
    const at = new Date(this.now()).toISOString();
    const writes = this.startWrites(group, version, machineId, at);
    const [head, ...rest] = writes.absent;
    const absent = rest.reduce((c, k) => c.and(k, 'Version', '==', 0), this.client.if(head!, 'Version', '==', 0));
    const first = await absent
      .then(...Object.entries(writes.puts).map(([k, v]) => this.client.put(k).value(v)))
      .commit()
      .catch(() => undefined);
    if (first?.succeeded) return { ok: true, changed: true, record: withMarks(newRollout(version, at), [machineId], []), attempts: 1 };
    const change = await this.changeRollout(group, version, (r, c) => recordStarted(r, machineId, c.at), { machineId });
    return { ...change, attempts: change.attempts + 1 };
  }

  /**
   * The first try of `recordStarted` as writes another transaction can carry (the lock's
   * confirmation of a slot handed over): the mark, made when neither the rollout's stored
   * value nor the mark exists; `recordStarted` tries the same first, in a transaction of its
   * own. When it was not made, `recordStarted` does it the long way. The mark's value (by
   * default now: when the node asks, perhaps before a wait) is never read.
   */
  startWrites(group: string, version: string, machineId: string, at = new Date(this.now()).toISOString()): { absent: string[]; puts: Record<string, string> } {
    const mark = rolloutMarkKey(group, version, 'started', machineId);
    return { absent: [rolloutKey(group, version), mark], puts: { [mark]: at } };
  }

  recordSucceeded(group: string, version: string, machineId: string): Promise<RolloutChange> {
    return this.changeRollout(group, version, (r, c) => recordSucceeded(r, machineId, c.at), { machineId });
  }

  /**
   * `markSucceeded`'s writes as other transactions can carry them (the lock's release):
   * the success always, the start when its mark is missing.
   */
  successWrites(group: string, version: string, machineId: string, at = new Date(this.now()).toISOString()): Array<{ absent: string[]; puts: Record<string, string> }> {
    const started = rolloutMarkKey(group, version, 'started', machineId);
    return [
      { absent: [], puts: { [rolloutMarkKey(group, version, 'succeeded', machineId)]: at } },
      { absent: [started], puts: { [started]: at } },
    ];
  }

  /**
   * The same marks as `recordSucceeded` in one write, without reading first: a success
   * needs no compare (it is allowed while halted and never contends with the brake), and
   * this is on the reboot path of every node, between its health gate and handing its
   * slot on. Retried like any change until the operation deadline.
   */
  async markSucceeded(group: string, version: string, machineId: string): Promise<void> {
    const deadline = this.now() + (this.options.operationTimeoutMs ?? 30_000);
    const at = new Date(this.now()).toISOString();
    for (let attempts = 1; ; attempts++) {
      try {
        // The same writes the release carries when it can (successWrites), in a request of their own.
        await this.client.kv.txn({ compare: [], success: riderOps(this.successWrites(group, version, machineId, at)), failure: [] });
        return;
      } catch (error) {
        const e = etcdError(error, `marking ${machineId} succeeded on ${version}`);
        if (e.kind !== 'unavailable' || this.now() >= deadline) throw e;
        await sleep(jitteredDelayMs(attempts, this.random, errorPause));
      }
    }
  }

  /** Counts a failure; the rollout halts when failures reach the policy's limit for the live group. */
  recordFailed(group: string, version: string, failure: { machineId: string; error: string }, policy: RolloutPolicy): Promise<RolloutChange> {
    return this.changeRollout(group, version, (r, c) => recordFailed(r, { ...failure, at: c.at }, policy, c.groupSize), { machineId: failure.machineId, needsGroupSize: true });
  }

  /** An operator's halt; creates the record when no node has started the version yet. */
  halt(group: string, version: string, reason: string): Promise<RolloutChange> {
    return this.changeRollout(group, version, (r, c) => halt(r, reason, c.at));
  }

  resume(group: string, version: string): Promise<RolloutChange> {
    return this.changeRollout(group, version, (r, c) => resume(r, c.at));
  }

  /** Every record of the group, the lock's semaphore and holder times, at one revision (one request). */
  async read(group: string): Promise<FleetRead> {
    const fleet = fleetPrefix(group);
    const semKey = semaphoreKey(group);
    const holders = holdersPrefix(group);
    let res;
    try {
      res = await this.client.kv.txn({ compare: [], success: [range(fleet, true), range(semKey), range(holders, true)], failure: [] });
    } catch (error) {
      throw etcdError(error, `reading ${fleet}`);
    }
    const kvs = (i: number) => res.responses[i]?.response_range?.kvs ?? [];
    const text = (b: Buffer) => b.toString('utf8');
    const entries = new Map(kvs(0).map((kv) => [text(kv.key), text(kv.value)]));
    const sem = kvs(1)[0];
    const holderSince = new Map(kvs(2).map((kv) => [decodeURIComponent(text(kv.key).slice(holders.length)), text(kv.value)]));
    return {
      input: { group, entries, ...(sem ? { semaphore: text(sem.value) } : {}), semaphoreKey: semKey, holderSince, nowMs: this.now() },
      revision: Number(res.header.revision),
    };
  }

  /**
   * The records of a group's nodes that are failed or rebooting (its `attention/` keys, raw,
   * by key: node-attention.ts) and its lock's semaphore, at one revision, in pages of
   * `pageSize`, for the pre-reboot check "no node of group G is failed or rebooting"
   * (src/update/pre-reboot-group.ts). A few keys at any time, however large the group; paged
   * all the same, as an agent's client keeps gRPC's 4 MiB reply limit.
   */
  async readAttention(group: string, pageSize = 1000): Promise<{ entries: Map<string, string>; semaphore?: string; revision: number }> {
    const prefix = attentionPrefix(group);
    const end = range(prefix, true).request_range.range_end!;
    const entries = new Map<string, string>();
    const text = (b: Buffer) => b.toString('utf8');
    try {
      const first = await this.client.kv.txn({ compare: [], success: [{ request_range: { key: Buffer.from(prefix), range_end: end, limit: pageSize } }, range(semaphoreKey(group))], failure: [] });
      const revision = Number(first.header.revision);
      let page = first.responses[0]?.response_range;
      const sem = first.responses[1]?.response_range?.kvs?.[0];
      for (;;) {
        for (const kv of page?.kvs ?? []) entries.set(text(kv.key), text(kv.value));
        const last = page?.kvs?.at(-1);
        if (!page?.more || !last) break;
        // The next page starts just after the last key, at the first page's revision: one snapshot.
        page = await this.client.kv.range({ key: Buffer.concat([last.key, Buffer.from([0])]), range_end: end, limit: pageSize, revision });
      }
      return { entries, ...(sem ? { semaphore: text(sem.value) } : {}), revision };
    } catch (error) {
      throw etcdError(error, `reading ${prefix}`);
    }
  }

  /**
   * Calls `onChange` with the revision of every change to the group's records or lock after
   * `revision` (events of one etcd revision come together). Waiters' queue keys are not watched.
   * A watcher etcd cancels is replaced (group-watch.ts).
   */
  watch(group: string, revision: number, onChange: (revision: number) => void): Promise<{ close(): Promise<void> }> {
    return watchGroup(this.client, group, revision, { change: onChange });
  }

  /** Stops the keep-alives (node keys expire with their lease, or go at once with `revoke`) and closes an owned client. */
  async close(options: { revoke?: boolean } = {}): Promise<void> {
    await this.publisher.close(options.revoke ?? false);
    if (this.ownsClient) this.client.close();
  }
}

/** A range request for one key, or for every key under a prefix. */
function range(key: string, prefix = false): { request_range: { key: Buffer; range_end?: Buffer } } {
  const start = Buffer.from(key);
  if (!prefix) return { request_range: { key: start } };
  const end = Buffer.from(key);
  end[end.length - 1]!++;
  return { request_range: { key: start, range_end: end } };
}
