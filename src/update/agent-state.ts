import { KeelError } from '../errors.js';
import type { Release } from './release.js';

/**
 * The update agent's state machine, pure. States carry their own data; each edge is one
 * named function that checks its source state and returns the next one; an edge taken from
 * a state it does not leave is a KeelError('conflict'). The diagram is docs/update-states.dot
 * and test/unit/update/agent-state.test.ts walks every edge of it.
 */
export type Slot = 'a' | 'b';

/** What is booted: the slot and the version in it. */
export interface Booted {
  slot: Slot;
  version: string;
}

export type AgentState =
  | { kind: 'start' }
  /** Booted; the health gate has not answered yet. `trial`: a new slot still on its try counter. */
  | { kind: 'booted'; booted: Booted; trial: boolean }
  /** A trial slot failed its health gate: reboot it (bounded) so its tries run out. */
  | { kind: 'unhealthy'; booted: Booted; reboots: number }
  /** The previous slot booted because `failedVersion` ran out of tries: report it, never retry it. */
  | { kind: 'rolled-back'; booted: Booted; failedVersion: string }
  /** Healthy and idle between checks. */
  | { kind: 'steady'; booted: Booted; lastCheckMs?: number }
  | { kind: 'available'; booted: Booted; release: Release; failedAttempts: number }
  | { kind: 'downloading'; booted: Booted; release: Release; failedAttempts: number }
  /** Written, verified and given a boot entry: waiting for strategy, window and lock. */
  | { kind: 'staged'; booted: Booted; release: Release; postponements: number }
  | { kind: 'rebooting'; booted: Booted; release: Release };

export type StateKind = AgentState['kind'];
type Of<K extends StateKind> = Extract<AgentState, { kind: K }>;

function from<K extends StateKind>(state: AgentState, edge: string, allowed: readonly K[]): Of<K> {
  if (!(allowed as readonly StateKind[]).includes(state.kind))
    throw new KeelError('conflict', `update agent: edge '${edge}' is not allowed from state '${state.kind}' (only from ${allowed.join(', ')}); state unchanged`);
  return state as Of<K>;
}

/** start → booted: the slot, version and whether it is on trial, read from disk. */
export function initialize(state: AgentState, booted: Booted, trial: boolean): AgentState {
  from(state, 'initialize', ['start']);
  return { kind: 'booted', booted, trial };
}

/** booted → steady: the health gate passed (slot marked good, reboot lock released). */
export function passHealth(state: AgentState): AgentState {
  const s = from(state, 'passHealth', ['booted']);
  return { kind: 'steady', booted: s.booted };
}

/** booted → unhealthy: a trial slot failed its health gate. */
export function failHealth(state: AgentState): AgentState {
  const s = from(state, 'failHealth', ['booted']);
  if (!s.trial) throw new KeelError('conflict', 'update agent: failHealth is only for a slot on trial; a blessed slot is not rolled back by the agent');
  return { kind: 'unhealthy', booted: s.booted, reboots: 0 };
}

/** unhealthy → unhealthy: one more reboot of the failing slot (the caller bounds the count). */
export function rebootUnhealthy(state: AgentState): AgentState {
  const s = from(state, 'rebootUnhealthy', ['unhealthy']);
  return { ...s, reboots: s.reboots + 1 };
}

/** booted → rolled-back: the newer release's entry ran out of tries and the previous slot booted. */
export function detectRollback(state: AgentState, failedVersion: string): AgentState {
  const s = from(state, 'detectRollback', ['booted']);
  return { kind: 'rolled-back', booted: s.booted, failedVersion };
}

/** rolled-back → steady: the failed version is recorded and reported. */
export function reportRollback(state: AgentState): AgentState {
  const s = from(state, 'reportRollback', ['rolled-back']);
  return { kind: 'steady', booted: s.booted };
}

/** steady → steady: checked, nothing to do. */
export function findNothing(state: AgentState, nowMs: number): AgentState {
  const s = from(state, 'findNothing', ['steady']);
  return { kind: 'steady', booted: s.booted, lastCheckMs: nowMs };
}

/** steady → available: a verified, acceptable release. */
export function findRelease(state: AgentState, release: Release): AgentState {
  const s = from(state, 'findRelease', ['steady']);
  return { kind: 'available', booted: s.booted, release, failedAttempts: 0 };
}

/** available → downloading. */
export function startDownload(state: AgentState): AgentState {
  const s = from(state, 'startDownload', ['available']);
  return { kind: 'downloading', booted: s.booted, release: s.release, failedAttempts: s.failedAttempts };
}

/** downloading → available: the download or write failed; try again later. */
export function failDownload(state: AgentState): AgentState {
  const s = from(state, 'failDownload', ['downloading']);
  return { kind: 'available', booted: s.booted, release: s.release, failedAttempts: s.failedAttempts + 1 };
}

/** available → steady: too many failed attempts; give up on this release until the next check. */
export function abandon(state: AgentState, nowMs: number): AgentState {
  const s = from(state, 'abandon', ['available']);
  return { kind: 'steady', booted: s.booted, lastCheckMs: nowMs };
}

/** downloading → staged: slot written and verified, boot entry in place. */
export function stage(state: AgentState): AgentState {
  const s = from(state, 'stage', ['downloading']);
  return { kind: 'staged', booted: s.booted, release: s.release, postponements: 0 };
}

/** steady → staged: a restart found a staged release on disk. */
export function restoreStaged(state: AgentState, release: Release): AgentState {
  const s = from(state, 'restoreStaged', ['steady']);
  return { kind: 'staged', booted: s.booted, release, postponements: 0 };
}

/** staged → staged: outside the window, users logged in, or the lock is taken. */
export function postpone(state: AgentState): AgentState {
  const s = from(state, 'postpone', ['staged']);
  return { ...s, postponements: s.postponements + 1 };
}

/** staged → rebooting: lock held (if the strategy wants one), reboot requested. */
export function beginReboot(state: AgentState): AgentState {
  const s = from(state, 'beginReboot', ['staged']);
  return { kind: 'rebooting', booted: s.booted, release: s.release };
}

/** rebooting → staged: the reboot request failed; try again on a later tick. */
export function failReboot(state: AgentState): AgentState {
  const s = from(state, 'failReboot', ['rebooting']);
  return { kind: 'staged', booted: s.booted, release: s.release, postponements: 0 };
}

/** Every edge: name, allowed sources, target. The diagram and the edge-walking test read this. */
export const edges = [
  { name: 'initialize', from: ['start'], to: 'booted' },
  { name: 'passHealth', from: ['booted'], to: 'steady' },
  { name: 'failHealth', from: ['booted'], to: 'unhealthy' },
  { name: 'rebootUnhealthy', from: ['unhealthy'], to: 'unhealthy' },
  { name: 'detectRollback', from: ['booted'], to: 'rolled-back' },
  { name: 'reportRollback', from: ['rolled-back'], to: 'steady' },
  { name: 'findNothing', from: ['steady'], to: 'steady' },
  { name: 'findRelease', from: ['steady'], to: 'available' },
  { name: 'startDownload', from: ['available'], to: 'downloading' },
  { name: 'failDownload', from: ['downloading'], to: 'available' },
  { name: 'abandon', from: ['available'], to: 'steady' },
  { name: 'stage', from: ['downloading'], to: 'staged' },
  { name: 'restoreStaged', from: ['steady'], to: 'staged' },
  { name: 'postpone', from: ['staged'], to: 'staged' },
  { name: 'beginReboot', from: ['staged'], to: 'rebooting' },
  { name: 'failReboot', from: ['rebooting'], to: 'staged' },
] as const satisfies readonly { name: string; from: readonly StateKind[]; to: StateKind }[];

export const stateKinds: readonly StateKind[] = ['start', 'booted', 'unhealthy', 'rolled-back', 'steady', 'available', 'downloading', 'staged', 'rebooting'];
