import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KeelError } from '../errors.js';
import type { Logger } from '../log.js';
import type { RebootLock } from '../lock/reboot-lock.js';
import { readLocalMember } from '../lock/local-member.js';
import { readMemberHealth } from '../lock/etcd-member-health.js';
import type { AgentEnv, ReportFields } from './agent-tick.js';
import type { AgentState, Booted } from './agent-state.js';
import { AgentLock, type LockWait } from './agent-lock.js';
import type { AgentFleet } from './agent-fleet.js';
import { NodeRecordPublisher } from './node-record-publisher.js';
import { PreRebootStage } from './pre-reboot.js';
import type { ContainerProbe } from './pre-reboot-containers.js';
import type { EtcdQuorumProbe } from './pre-reboot-etcd.js';
import { otherSlot } from './boot-entry.js';
import { listEntries } from './esp.js';
import { armAfterGoodBoot } from './counted-boots.js';
import { readVerdict } from './health-gate.js';
import { bootedSlotOf, machineIdOf, runningVersionOf, trustKeyOf, userSessionsOf } from './host-facts.js';
import { readRecords, recordInstalled, removeRecords } from './progress-record.js';
import type { Release } from './release.js';
import { checkForRelease } from './release-installer.js';
import { readNodeState, updateNodeState, type StoredNodeState } from './node-state.js';
import type { LockMode } from './reboot-policy.js';
import { systemctlReboot, type Rebooter } from './rebooter.js';
import { slotPartitions, type SlotDevices } from './slot-devices.js';
import { stageRelease } from './stage-release.js';
import type { UpdateConfig } from './update-config.js';
import { updatePathsOf } from './update-paths.js';

/**
 * The agent's edges on a real host, everything under `root` so a test can point it at a
 * directory tree: the ESP at /boot, progress under /var/lib/keel/update, the health verdict
 * in /run/keel. The slots (slot-devices.ts), the reboot (rebooter.ts) and the reboot lock are
 * handed in; by default the partitions by label, `systemctl reboot`, and no lock.
 */
export interface HostOptions {
  root: string;
  config: UpdateConfig;
  log: Logger;
  /** Where each slot's image is written; default the partition labelled keel-root-<slot>. */
  slotTarget?: SlotDevices;
  /** The reboot lock (etcd or FleetLock), opened when first needed. */
  openLock?: () => Promise<RebootLock>;
  rebooter?: Rebooter;
  now?: () => number;
  /** The fleet records (docs/fleet.md), when etcd is configured; none: nothing is published. */
  fleet?: AgentFleet;
  /** What PRE_REBOOT_CONTAINERS reads; default the host's (spec files, systemd over D-Bus, the supervisor's records). */
  containers?: ContainerProbe;
  /** What the etcd quorum check reads; default the cluster of the member cloud-config configured here, if any. */
  etcdMembers?: EtcdQuorumProbe;
  /** Run last by `closeLock` (update-lock.ts: the shared etcd client when the lock was never opened). */
  onClose?: () => Promise<void>;
}

/** Builds the AgentEnv of a host. */
export function hostEnv(o: HostOptions): AgentEnv & { closeLock(): Promise<void>; stateChanged(state: AgentState): Promise<void> } {
  return new HostAgentEnv(o);
}

class HostAgentEnv implements AgentEnv {
  readonly now: () => number;
  readonly random = Math.random;
  readonly config: UpdateConfig;
  readonly log: Logger;
  private readonly root: string;
  private readonly stateDir: string;
  private readonly esp: string;
  private readonly slots: SlotDevices;
  private readonly rebooter: Rebooter;
  private readonly lock: AgentLock;
  private readonly fleet: AgentFleet | undefined;
  private readonly preRebootStage: PreRebootStage;
  private readonly record: NodeRecordPublisher | undefined;

  constructor(private readonly o: HostOptions) {
    this.now = o.now ?? Date.now;
    this.config = o.config;
    this.log = o.log;
    this.root = o.root;
    ({ stateDir: this.stateDir, esp: this.esp } = updatePathsOf(o.root));
    this.slots = o.slotTarget ?? slotPartitions;
    this.rebooter = o.rebooter ?? systemctlReboot();
    this.lock = new AgentLock(o.openLock, o.log);
    this.fleet = o.fleet;
    const member = readLocalMember(o.root);
    const etcd = o.etcdMembers ?? (member && { members: () => readMemberHealth(member) });
    this.preRebootStage = new PreRebootStage(o.root, o.config.preReboot, { ...(o.containers && { containers: o.containers }), ...(o.fleet && { group: o.fleet.groupProbe() }), ...(etcd && { etcd }) });
    this.record = o.fleet && new NodeRecordPublisher(o.fleet, o.root, () => this.state(), () => this.iso());
  }

  private iso(): string {
    return new Date(this.now()).toISOString();
  }

  /** Publishes the node record on a change of state (the daemon calls it) and of its facts. */
  async stateChanged(state: AgentState): Promise<void> {
    await this.record?.stateChanged(state);
  }

  preReboot = () => this.preRebootStage.run();

  healthFailed = async (booted: Booted, message: string) => this.fleet?.failed(booted.version, message);

  private state(): Promise<StoredNodeState> {
    return readNodeState(this.stateDir) as Promise<StoredNodeState>;
  }

  private change(f: (s: StoredNodeState) => StoredNodeState): Promise<StoredNodeState> {
    return updateNodeState(this.stateDir, (s) => f(s as StoredNodeState)) as Promise<StoredNodeState>;
  }

  private async machineId(): Promise<string> {
    return (await machineIdOf(this.root)) ?? 'unknown-machine';
  }

  async bootFacts() {
    const slot = await bootedSlotOf(this.root);
    const version = await runningVersionOf(this.root);
    if (!slot || !version) throw new KeelError('not-found', `cannot tell the booted slot (keel.slot= on /proc/cmdline) or version (/usr/lib/keel/version) under ${this.root}; the agent cannot run`);
    const pending = (await readRecords(this.stateDir)).find((r) => r.phase === 'pending' && r.version === version && r.slot === slot);
    const entry = (await listEntries(this.esp)).find((e) => e.slot === slot && e.version === version);
    // A counted boot of a slot that passed its gate before is no trial (counted-boots.ts).
    const blessedBefore = (await this.state()).blessed?.[slot] === version;
    return { booted: { slot, version }, trial: pending !== undefined || (entry?.health === 'trying' && !blessedBefore) };
  }

  async health() {
    const ok = (await readVerdict(this.root))?.ok;
    if (ok === undefined && this.fleet) await this.countOverdue();
    return ok;
  }

  /** Not healthy within the rollout's health deadline of the reboot: the node counts as failed (once). */
  private async countOverdue(): Promise<void> {
    const { rebootingTo, rebootingAt } = await this.state();
    if (rebootingTo && rebootingAt) await this.fleet?.countOverdue(rebootingTo, Date.parse(rebootingAt), this.now());
  }

  async findRollback(booted: Booted) {
    const s = await this.state();
    if (s.rebootingTo && s.rebootingTo !== booted.version) return s.rebootingTo;
    // A slot that passed its gate before and then ran out of tries (counted-boots.ts): it stopped
    // booting by itself (a block dm-verity refused, a disk gone bad) and the machine came back here.
    const other = otherSlot(booted.slot);
    const gone = (await listEntries(this.esp)).find((e) => e.slot === other && e.health === 'bad' && e.version !== undefined && e.version === s.blessed?.[other]);
    if (gone?.version && gone.version !== booted.version && !s.failedVersions.includes(gone.version)) return gone.version;
    return undefined;
  }

  async markGood(booted: Booted, trial: boolean) {
    await armAfterGoodBoot({ root: this.root, esp: this.esp, booted, tries: this.config.bootTries });
    if (trial) await recordInstalled(this.stateDir, booted.version, new Date().toISOString());
    await this.change((x) => ({ ...x, blessed: { ...x.blessed, [booted.slot]: booted.version } }));
    const s = await this.state();
    // The success rides in the release's first request (one request on every node's reboot
    // path, not two): no rule waits on a success, and the brake only on failures, which a
    // failing node counts before its slot goes back. A node that lost power after taking its
    // slot, before it wrote `rebootingTo`, boots its staged version all the same.
    const success = this.fleet && (s.rebootingTo === booted.version || s.staged?.version === booted.version) ? this.fleet.successWithRelease(booted.version) : undefined;
    const strategy = this.config.strategy;
    let rode = false;
    try {
      if (s.lockHeld || strategy === 'etcd-lock' || strategy === 'best-effort')
        // Releasing is only required when this node holds the lock; best-effort without etcd has none.
        rode = await this.lock.release(await this.machineId(), s.lockHeld === true || strategy === 'etcd-lock', success?.riders);
    } finally {
      await success?.afterRelease(rode); // never rejects: a success that cannot be written is logged
    }
    await this.change((x) => {
      const { rebootingTo: _r, rebootingAt: _a, staged, ...rest } = x;
      return { ...rest, lockHeld: false, ...(staged && staged.version !== booted.version ? { staged } : {}) };
    });
    this.record?.slotHeldSince(undefined);
  }

  async recordFailed(version: string, message: string) {
    // Its entry stays: out of tries it sorts last and never boots, and status shows the slot as bad
    // until the next update overwrites that slot. The reason goes in the same write: a status read
    // in between never shows the version failed without why.
    await this.fleet?.failed(version, `${version} failed its health gate and ran out of tries: rolled back`);
    await removeRecords(this.stateDir, version);
    await this.change((x) => {
      const { rebootingTo: _r, rebootingAt: _a, staged: _s, ...rest } = x;
      return { ...rest, failedVersions: [...new Set([...x.failedVersions, version])], lastError: message };
    });
  }

  async unhealthyReboots(version: string, add: boolean) {
    const s = await this.change((x) => ({ ...x, unhealthyReboots: { ...(x.unhealthyReboots ?? {}), [version]: (x.unhealthyReboots?.[version] ?? 0) + (add ? 1 : 0) } }));
    return s.unhealthyReboots?.[version] ?? 0;
  }

  async stagedRelease(booted: Booted) {
    const { staged } = await this.state();
    if (!staged || staged.version === booted.version) return undefined;
    const pending = (await readRecords(this.stateDir)).find((r) => r.phase === 'pending' && r.version === staged.version);
    const entry = (await listEntries(this.esp)).find((e) => e.version === staged.version && e.slot === otherSlot(booted.slot));
    return pending && entry ? staged : undefined;
  }

  async check(booted: Booted) {
    const wariness = this.config.rolloutWariness;
    return checkForRelease({
      repo: this.config.server!,
      trustPem: await trustKeyOf(this.root, this.config.trustKey),
      stateDir: this.stateDir,
      channel: this.config.channel,
      group: this.config.group,
      runningVersion: booted.version,
      machineId: await this.machineId(),
      nowMs: this.now(),
      ...(wariness !== undefined && { wariness }),
    });
  }

  async download(booted: Booted, release: Release) {
    const other = otherSlot(booted.slot);
    await this.change(({ staged: _s, ...rest }) => rest);
    // The new entry boots with the booted slot's command line, the slot swapped by boot-entry.ts.
    const current = (await listEntries(this.esp)).find((e) => e.slot === booted.slot);
    const options = current?.fields.options ?? (await readFile(join(this.root, 'proc/cmdline'), 'utf8').catch(() => '')).trim();
    const boot = { esp: this.esp, slot: other, options, tries: this.config.bootTries };
    // The running slot is passed so a delta can be used when its bytes are the delta's base (issue 14).
    const source = this.slots(booted.slot);
    const allowWithoutVerity = this.config.allowWithoutVerity;
    const write = await stageRelease({ repo: this.config.server!, target: this.slots(other), source, stateDir: this.stateDir, nowMs: this.now(), boot, allowWithoutVerity, onNote: (m) => this.log.notice(m) }, release);
    this.log.notice(`wrote ${release.version} into slot ${other} from the ${write.payload} payload: ${write.downloaded} bytes downloaded`);
    await this.change((x) => ({ ...x, staged: release }));
  }

  usersLoggedIn() {
    return userSessionsOf(this.root);
  }

  async takeLock(mode: LockMode, version: string, wait?: LockWait) {
    const holder = await this.machineId();
    // A halted rollout: not even asked for. A slot taken only to be given back would still be a
    // turn in the semaphore that the brake exists to prevent.
    const halt = await this.fleet?.haltOf(version);
    if (halt) {
      this.log.notice(`not asking for a reboot slot for ${version}: ${halt}`);
      return false;
    }
    // A halt seen in line ends the wait; one after the grant refuses the start (in or beside its confirmation).
    const starting = this.fleet?.startWithSlot(version);
    const line = this.fleet?.leaveLineOnHalt(version, wait);
    const outcome = await this.lock.take(mode, holder, line ? line.wait : wait, starting).then((o) => (line?.stop(o), o));
    if (outcome === 'busy') return false;
    if (outcome === 'taken') {
      this.record?.slotHeldSince(this.iso());
      await this.change((x) => ({ ...x, lockHeld: true }));
    }
    if (!starting) return true;
    const start = await starting.outcome();
    if (start.ok) return true;
    // etcd away under a strategy that does not need it: the brake cannot be read, the reboot goes ahead.
    if (!start.halted && this.config.strategy !== 'etcd-lock') {
      this.log.warning(`${start.reason}; ${this.config.strategy}: rebooting without it`);
      return true;
    }
    this.log.notice(`not rebooting into ${version}: ${start.reason}; giving the reboot slot back and waiting`);
    if (outcome === 'taken') {
      await this.lock.release(holder, true).catch((error) => this.log.warning(`giving the reboot slot back failed: ${(error as Error).message}`));
      this.record?.slotHeldSince(undefined);
      await this.change((x) => ({ ...x, lockHeld: false }));
    }
    return false;
  }

  async reboot(reason: string) {
    const s = await this.state();
    if (s.staged) await this.change((x) => ({ ...x, rebootingTo: s.staged!.version, rebootingAt: this.iso() }));
    await this.fleet?.flushed(2000); // the record says `rebooting` before the host goes down
    this.log.notice(`rebooting: ${reason}`);
    await this.rebooter();
  }

  async report(fields: ReportFields) {
    await this.change((x) => {
      const next: StoredNodeState = { ...x, agentState: fields.state };
      if (fields.lastCheck !== undefined) next.lastCheck = fields.lastCheck;
      if (fields.lastCheckResult !== undefined) next.lastCheckResult = fields.lastCheckResult;
      if (fields.lastError === null) delete next.lastError;
      else if (fields.lastError !== undefined) next.lastError = fields.lastError;
      return next;
    });
    await this.record?.reported(fields.state);
  }

  /** A stop: closes the lock; withdraws the node record unless the stop is a reboot's (then it reappears after the boot). */
  async closeLock() {
    await this.fleet?.close(this.record?.kind !== 'rebooting' && this.record?.kind !== 'unhealthy');
    await this.lock.close();
    await this.preRebootStage.close();
    await this.o.onClose?.();
  }
}
