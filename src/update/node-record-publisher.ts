import type { AgentState, Booted } from './agent-state.js';
import { agentFacts, type AgentFleet } from './agent-fleet.js';
import { readVerdict } from './health-gate.js';
import type { StoredNodeState } from './node-state.js';

/**
 * What this host says of itself in its fleet record (docs/fleet.md): the agent's state and since
 * when, the last error since its first sighting, the reboot slot since it was taken. Published
 * only when the facts changed, so a tick that changed nothing writes nothing to etcd.
 */
export class NodeRecordPublisher {
  private current: { kind: string; booted: Booted; since: string } | undefined;
  private lastError: { message: string; at: string } | undefined;
  private published = '';
  /** When this host took its reboot slot; cleared when it gives it back. */
  private lockSince: string | undefined;

  constructor(
    private readonly fleet: AgentFleet,
    private readonly root: string,
    private readonly readState: () => Promise<StoredNodeState>,
    private readonly iso: () => string,
  ) {}

  /** The reboot slot was taken at `at`, or given back (undefined). */
  slotHeldSince(at: string | undefined): void {
    this.lockSince = at;
  }

  /** The state's kind, if known: a stop during a reboot keeps the record. */
  get kind(): string | undefined {
    return this.current?.kind;
  }

  async stateChanged(state: AgentState): Promise<void> {
    if (!('booted' in state)) return;
    this.current = { kind: state.kind, booted: state.booted, since: this.iso() };
    await this.publish();
  }

  /** The agent reported a state (agent-tick.ts): a new kind starts a new `since`. */
  async reported(kind: string): Promise<void> {
    if (!this.current) return;
    if (this.current.kind !== kind) this.current = { ...this.current, kind, since: this.iso() };
    await this.publish();
  }

  private async publish(): Promise<void> {
    if (!this.current) return;
    const s = await this.readState();
    if (s.lastError === undefined) this.lastError = undefined;
    else if (this.lastError?.message !== s.lastError) this.lastError = { message: s.lastError, at: this.iso() };
    const verdict = await readVerdict(this.root).catch(() => undefined);
    const lockSince = s.lockHeld ? this.lockSince : undefined;
    const facts = agentFacts({ ...this.current, stored: s, verdict, lastError: this.lastError, lockSince });
    const text = JSON.stringify(facts);
    if (text === this.published) return;
    this.published = text;
    this.fleet.publish(facts);
  }
}
