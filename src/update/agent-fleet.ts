import { hostname } from 'node:os';
import type { Logger } from '../log.js';
import type { FleetStore } from '../fleet/fleet-store.js';
import { nodeRecord, type NodeFacts } from '../fleet/node-record.js';
import { healthOverdue, type RolloutPolicy } from '../fleet/rollout-policy.js';
import { haltMessage } from '../fleet/rollout-record.js';
import { formatDuration } from '../duration.js';
import type { HealthVerdict } from './health-gate.js';
import type { StoredNodeState } from './node-state.js';
import type { GroupProbe } from './pre-reboot-group.js';
import type { LockWait } from './agent-lock.js';

/**
 * The agent's side of the fleet records (docs/fleet.md): its node record, written again on
 * every state change, and its part in each rollout. etcd being away never stops the agent:
 * a record that cannot be written is retried in the background with backoff (the newest
 * facts win), and a rollout change that fails is logged; only a start that cannot be
 * recorded keeps the node from rebooting, as the lock would.
 */
export interface AgentFleetOptions {
  store: FleetStore;
  group: string;
  machineId: string;
  policy: RolloutPolicy;
  log: Logger;
  /** First retry wait of a failed publish; doubled up to 30 s. Default 1 s. */
  retryMs?: number;
  /** The hostname the record shows (update.conf HOSTNAME_OVERRIDE); default os.hostname(). Several agents on one machine (tests, the benchmark) set one each. */
  hostname?: string;
  /** How often a node waiting in line for a slot reads whether its rollout halted. Default 5 s. */
  haltPollMs?: number;
}

/** What the agent tells about itself; the fleet side adds the machine id, hostname and times. */
export type AgentFacts = Omit<NodeFacts, 'machineId' | 'hostname' | 'updatedAt'>;

export class AgentFleet {
  private pending: AgentFacts | undefined;
  private writing: Promise<void> | undefined;
  private closed = false;
  private wake: (() => void) | undefined;
  private readonly overdue = new Set<string>();

  constructor(private readonly o: AgentFleetOptions) {}

  get group(): string {
    return this.o.group;
  }

  /** The pre-reboot group check's view of the records (src/update/pre-reboot-group.ts): any group, this node left out. */
  groupProbe(): GroupProbe {
    return {
      machineId: this.o.machineId,
      readAttention: (group) => this.o.store.readAttention(group),
      warn: (message) => this.o.log.warning(`fleet: ${message}`),
    };
  }

  /** Queues the newest facts for writing; returns at once. */
  publish(facts: AgentFacts): void {
    if (this.closed) return;
    this.pending = facts;
    this.writing ??= this.drain().finally(() => (this.writing = undefined));
  }

  /** Waits until the queued record is written, or at most `timeoutMs` (before a reboot: etcd may be away). */
  async flushed(timeoutMs = Infinity): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<void>((resolve) => (timer = Number.isFinite(timeoutMs) ? setTimeout(resolve, timeoutMs) : undefined));
    const all = (async () => {
      while (this.writing) await this.writing;
    })();
    await Promise.race([all, ...(timer ? [limit] : [])]);
    clearTimeout(timer);
  }

  /** Counts this node failed on `version` once when its health gate has not answered within the deadline of its reboot. */
  async countOverdue(version: string, rebootedAtMs: number, nowMs: number): Promise<void> {
    if (this.overdue.has(version) || !healthOverdue(this.o.policy, rebootedAtMs, nowMs)) return;
    this.overdue.add(version);
    const message = `${version} was not healthy within ${formatDuration(this.o.policy.healthDeadlineMs)} of its reboot`;
    this.o.log.error(message);
    await this.failed(version, message);
  }

  private async drain(): Promise<void> {
    let waitMs = this.o.retryMs ?? 1000;
    while (this.pending && !this.closed) {
      const facts = this.pending;
      try {
        const at = new Date().toISOString();
        await this.o.store.publishNode(this.o.group, nodeRecord({ machineId: this.o.machineId, hostname: this.o.hostname ?? hostname(), ...facts, updatedAt: at }));
        if (this.pending === facts) this.pending = undefined;
        waitMs = this.o.retryMs ?? 1000;
      } catch (error) {
        this.o.log.warning(`fleet: cannot write this node's record (${(error as Error).message}); retrying in ${Math.round(waitMs / 1000)} s`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, waitMs);
          this.wake = () => (clearTimeout(timer), resolve());
        });
        this.wake = undefined;
        waitMs = Math.min(30_000, waitMs * 2);
      }
    }
  }

  /**
   * The start of `version` as the lock's first step with the slot: its mark rides in the
   * confirmation of a slot handed over while the rollout has no stored value (nothing failed
   * or halted: FleetStore.startWrites), else it is recorded right after. `outcome()` says
   * how it went, recording the start then if the lock never ran the step.
   */
  startWithSlot(version: string): { rider: { absent: string[]; puts: Record<string, string> }; whenGranted: (rode: boolean) => Promise<void>; outcome: () => ReturnType<AgentFleet['started']> } {
    let starting: ReturnType<AgentFleet['started']> | undefined;
    return {
      rider: this.o.store.startWrites(this.o.group, version, this.o.machineId),
      whenGranted: async (rode) => void (await (starting = rode ? Promise.resolve({ ok: true as const }) : this.started(version))),
      outcome: () => (starting ??= this.started(version)),
    };
  }

  /**
   * Marks this node started on `version` (after taking the lock). `halted`: the rollout
   * refused it; otherwise etcd could not be asked.
   */
  async started(version: string): Promise<{ ok: true } | { ok: false; halted: boolean; reason: string }> {
    try {
      const r = await this.o.store.recordStarted(this.o.group, version, this.o.machineId);
      return r.ok ? { ok: true } : { ok: false, halted: true, reason: r.reason };
    } catch (error) {
      return { ok: false, halted: false, reason: `cannot record the start of ${version} in etcd (${(error as Error).message})` };
    }
  }

  /**
   * Why the rollout of `version` is halted, asked before taking a reboot slot for it; undefined
   * when it is not, or when etcd cannot be asked (the start recorded after taking the slot
   * still refuses a halted rollout).
   */
  async haltOf(version: string): Promise<string | undefined> {
    try {
      const halt = await this.o.store.readHalt(this.o.group, version);
      return halt ? haltMessage(version, halt) : undefined;
    } catch (error) {
      this.o.log.warning(`fleet: cannot read whether the rollout of ${version} is halted (${(error as Error).message}); asking for the slot, the start is checked after taking it`);
      return undefined;
    }
  }

  /**
   * `wait` for a slot, ended also when the rollout of `version` halts (the lock then takes this
   * node out of the queue, so a release is not handed to it only to be given back). `stop()`
   * ends the watch once the lock has answered, and says why a wait the halt ended took nothing.
   */
  leaveLineOnHalt(version: string, wait: LockWait | undefined): { wait: LockWait | undefined; stop: (outcome: string) => void } {
    const ended = new AbortController();
    let halt: string | undefined;
    if (wait) void this.haltWhileWaiting(version, ended.signal).then((h) => ((halt = h), ended.abort()));
    return {
      wait: wait && { ...wait, signal: wait.signal ? AbortSignal.any([wait.signal, ended.signal]) : ended.signal },
      stop: (outcome) => {
        ended.abort();
        if (halt && outcome === 'busy') this.o.log.notice(`no longer waiting for a reboot slot for ${version}: ${halt}`);
      },
    };
  }

  /**
   * Resolves with why the rollout of `version` halted, should it halt before `signal` ends:
   * read every `everyMs` while this node waits in line for a slot, so a node queued before
   * another's failure leaves the line instead of being handed the slot (and giving it back).
   * A read that fails is tried again at the next tick, silently: the wait itself reports etcd.
   */
  haltWhileWaiting(version: string, signal: AbortSignal, everyMs = this.o.haltPollMs ?? 5000): Promise<string> {
    return new Promise((resolve) => {
      const tick = async () => {
        if (signal.aborted) return;
        const halt = await this.o.store.readHalt(this.o.group, version).catch(() => undefined);
        if (signal.aborted) return;
        if (halt) resolve(haltMessage(version, halt));
        else timer = setTimeout(tick, everyMs);
      };
      let timer = setTimeout(tick, everyMs);
      signal.addEventListener('abort', () => clearTimeout(timer), { once: true });
    });
  }

  async succeeded(version: string): Promise<void> {
    try {
      await this.o.store.markSucceeded(this.o.group, version, this.o.machineId);
    } catch (error) {
      this.o.log.warning(`fleet: cannot record ${version} as succeeded (${(error as Error).message}); the node record still shows it`);
    }
  }

  /**
   * The success on `version` as writes the release of the reboot slot carries (one request
   * on every node's reboot path, not two); `afterRelease(rode)` writes it alone when the
   * release did not carry it (a FleetLock server, no lock, a release that failed).
   */
  successWithRelease(version: string): { riders: Array<{ absent: string[]; puts: Record<string, string> }>; afterRelease: (rode: boolean) => Promise<void> } {
    return {
      riders: this.o.store.successWrites(this.o.group, version, this.o.machineId),
      afterRelease: async (rode) => (rode ? undefined : this.succeeded(version)),
    };
  }

  /** Counts this node as failed on `version`; the rollout halts when the policy says so. */
  async failed(version: string, message: string): Promise<void> {
    try {
      const r = await this.o.store.recordFailed(this.o.group, version, { machineId: this.o.machineId, error: message }, this.o.policy);
      if (r.record.halted) this.o.log.error(`fleet: the rollout of ${version} is halted: ${r.record.halted.reason}`);
    } catch (error) {
      this.o.log.error(`fleet: cannot count the failure of ${version} (${(error as Error).message}); other nodes will not see it`);
    }
  }

  /** Stops writing; on a clean stop the node's live record is withdrawn (its lost copy stays). */
  async close(withdraw: boolean): Promise<void> {
    this.closed = true;
    this.wake?.();
    await this.writing?.catch(() => undefined);
    if (withdraw) await this.o.store.withdrawNode(this.o.group, this.o.machineId).catch((error) => this.o.log.warning(`fleet: cannot withdraw this node's record (${(error as Error).message}); it expires with its lease`));
    await this.o.store.close({ revoke: false }).catch(() => undefined);
  }
}

/** What the facts are built from: the agent's state, its stored node state, the health verdict and times it remembers. */
export interface FactsInput {
  kind: string;
  booted: { slot: string; version: string };
  since: string;
  stored: StoredNodeState;
  verdict: HealthVerdict | undefined;
  lastError: { message: string; at: string } | undefined;
  lockSince: string | undefined;
}

/** The node record's facts of the agent; pure. */
export function agentFacts(i: FactsInput): AgentFacts {
  const facts: AgentFacts = { version: i.booted.version, slot: i.booted.slot, state: i.kind, stateSince: i.since };
  const staged = i.stored.staged?.version;
  if (staged !== undefined && staged !== i.booted.version) facts.staged = staged;
  if (i.stored.lastCheck !== undefined) facts.lastCheck = i.stored.lastCheck;
  if (i.lastError) facts.lastError = i.lastError;
  if (i.verdict) {
    const failing = i.verdict.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`).join('; ');
    facts.health = { verdict: i.verdict.ok ? 'passed' : 'failed', at: i.verdict.at, ...(failing && { detail: failing }) };
  }
  if (i.lockSince !== undefined) facts.rebootSlot = { since: i.lockSince };
  return facts;
}
