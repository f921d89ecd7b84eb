import { KeelError } from '../errors.js';
import type { Logger } from '../log.js';
import * as m from './agent-state.js';
import type { AgentState, Booted, StateKind } from './agent-state.js';
import type { LockWait } from './agent-lock.js';
import { nextOpening, openUntil, windowOpen } from './maintenance-window.js';
import type { Release } from './release.js';
import type { Choice } from './release-choice.js';
import { checkDelayMs, decideReboot, type LockMode, type WaitFor } from './reboot-policy.js';
import type { UpdateConfig } from './update-config.js';

/**
 * The agent's one effectful step: look at the state, do the one side effect it calls for
 * through `AgentEnv`, take the matching edge of the pure machine and say when to tick
 * again. One function per state below; `tick` picks it. All waiting is the caller's (a
 * timer, or node-cron at a window's opening).
 */
export interface AgentEnv {
  now(): number;
  random(): number;
  config: UpdateConfig;
  log: Logger;
  /** Booted slot and version, and whether it is a new slot still on its try counter. */
  bootFacts(): Promise<{ booted: Booted; trial: boolean }>;
  /** This boot's health verdict; undefined while the gate has not run yet. */
  health(): Promise<boolean | undefined>;
  /** A newer release that ran out of tries and left us on this slot, if any. */
  findRollback(booted: Booted): Promise<string | undefined>;
  /** Health passed: bless the entry if still counted, record the slot installed, release the lock. */
  markGood(booted: Booted, trial: boolean): Promise<void>;
  /** Record a version that failed its health gate (never installed again) with the reason, in one write, and clean up its entry. */
  recordFailed(version: string, message: string): Promise<void>;
  /** Reboots already made for a failing trial slot of this version (persisted), after counting one more when `add`. */
  unhealthyReboots(version: string, add: boolean): Promise<number>;
  /** A release already written and given an entry (a `.pending` record), if any. */
  stagedRelease(booted: Booted): Promise<Release | undefined>;
  check(booted: Booted): Promise<Choice>;
  /** Stage the release into the other slot (stage-release.ts): slot written and verified, kernel, initramfs and a counted entry on the ESP. */
  download(booted: Booted, release: Release): Promise<void>;
  usersLoggedIn(): Promise<number>;
  /**
   * Take the reboot lock in a mode for `version`: true when the reboot may go ahead. With
   * fleet records, a slot taken for a halted rollout is given back and this answers false.
   * `wait`: how long a full group may be waited for in the lock's queue.
   */
  takeLock(mode: LockMode, version: string, wait?: LockWait): Promise<boolean>;
  /** Pre-reboot checks (update.conf PRE_REBOOT_*): undefined when they pass or there are none, else why not. */
  preReboot?(): Promise<string | undefined>;
  /** The daemon moved to another state (fleet records: the node record is written again). */
  stateChanged?(state: AgentState): Promise<void>;
  /** A trial slot failed its health gate: count it against the rollout (fleet records). */
  healthFailed?(booted: Booted, message: string): Promise<void>;
  reboot(reason: string): Promise<void>;
  /** Persist facts for `keel update status`. */
  report(fields: ReportFields): Promise<void>;
}

/** What the agent reports for `keel update status`; `lastError: null` clears the last error. */
export interface ReportFields {
  state: string;
  lastCheck?: string;
  lastCheckResult?: string;
  lastError?: string | null;
}

export interface TickResult {
  state: AgentState;
  /** Milliseconds until the next tick. */
  delayMs: number;
  /** The next tick should come at a window's opening (node-cron). */
  waitingForWindow?: boolean;
}

const second = 1000;
const healthWaitMs = 2 * second;
/** A reboot decided now waits at most this long in the lock's queue before the tick looks again (window, halt, checks). */
const lockWaitMs = 300 * second;
/** The least time between two asks for the lock when the last one did not wait (a halt, a lock that did not answer). */
const lockRetryMs = 30 * second;

type Of<K extends StateKind> = Extract<AgentState, { kind: K }>;
/** The step of one state: `force` (keel update apply) checks now and ignores the window. */
type Step<K extends StateKind> = (state: Of<K>, env: AgentEnv, force: boolean, signal?: AbortSignal) => Promise<TickResult>;

/**
 * One step. `force` (keel update apply) checks now and ignores the window; `signal` (the
 * agent stopping) ends a wait for the reboot lock early.
 */
export async function tick(state: AgentState, env: AgentEnv, force = false, signal?: AbortSignal): Promise<TickResult> {
  const step = steps[state.kind] as Step<StateKind>;
  return step(state, env, force, signal);
}

/** start: read the booted slot and version from disk. */
async function start(state: Of<'start'>, env: AgentEnv): Promise<TickResult> {
  const facts = await env.bootFacts();
  env.log.info(`booted slot ${facts.booted.slot} with ${facts.booted.version}${facts.trial ? ' (on trial: not blessed yet)' : ''}`);
  return { state: m.initialize(state, facts.booted, facts.trial), delayMs: 0 };
}

/** booted: wait for the health gate's verdict, then mark good, detect a rollback, or fail. */
async function booted(state: Of<'booted'>, env: AgentEnv): Promise<TickResult> {
  const healthy = await env.health();
  if (healthy === undefined) return { state, delayMs: healthWaitMs };
  const { version, slot } = state.booted;
  if (healthy) {
    const failed = await env.findRollback(state.booted);
    if (failed) return { state: m.detectRollback(state, failed), delayMs: 0 };
    await env.markGood(state.booted, state.trial);
    env.log.notice(`${version} in slot ${slot} passed the health gate: marked good, reboot lock released`);
    return { state: m.passHealth(state), delayMs: 0 };
  }
  if (state.trial) {
    env.log.error(`${version} in slot ${slot} failed the health gate: not blessed; rebooting until its tries run out`);
    await env.healthFailed?.(state.booted, `${version} failed its health gate`);
    return { state: m.failHealth(state), delayMs: 0 };
  }
  await env.report({ state: state.kind, lastError: `the health gate failed on ${version}, a blessed slot: not updating until it passes` });
  return { state, delayMs: 60 * second };
}

/** unhealthy: reboot the failing trial slot (bounded) so its tries run out. */
async function unhealthy(state: Of<'unhealthy'>, env: AgentEnv): Promise<TickResult> {
  const { version } = state.booted;
  const max = env.config.maxUnhealthyReboots;
  const done = await env.unhealthyReboots(version, false);
  if (done >= max) {
    await env.report({ state: state.kind, lastError: `${version} failed its health gate and ${done} reboots did not bring the previous slot back; staying up for an operator` });
    return { state, delayMs: 3600 * second };
  }
  await env.unhealthyReboots(version, true);
  await env.report({ state: state.kind, lastError: `${version} failed its health gate; reboot ${done + 1} of at most ${max}` });
  await env.reboot(`${version} failed its health gate`);
  return { state: m.rebootUnhealthy(state), delayMs: 600 * second };
}

/** rolled-back: record the failed version (never installed again) and report it. */
async function rolledBack(state: Of<'rolled-back'>, env: AgentEnv): Promise<TickResult> {
  const message = `${state.failedVersion} failed its health gate and ran out of tries: rolled back to ${state.booted.version} in slot ${state.booted.slot}; ${state.failedVersion} will not be installed again`;
  await env.recordFailed(state.failedVersion, message);
  await env.markGood(state.booted, false);
  env.log.error(message);
  await env.report({ state: 'steady', lastError: message });
  return { state: m.reportRollback(state), delayMs: 0 };
}

/** steady: resume a release staged before a restart, or check when the interval is up. */
async function steady(state: Of<'steady'>, env: AgentEnv, force: boolean): Promise<TickResult> {
  const { config } = env;
  const staged = await env.stagedRelease(state.booted);
  if (staged) return { state: m.restoreStaged(state, staged), delayMs: 0 };
  const now = env.now();
  if (!config.server) {
    await env.report({ state: state.kind, lastCheckResult: 'no update server configured (SERVER in update.conf)' });
    return { state, delayMs: config.checkIntervalMs };
  }
  if (!force && state.lastCheckMs !== undefined && now - state.lastCheckMs < config.checkIntervalMs)
    return { state, delayMs: state.lastCheckMs + checkDelayMs(config.checkIntervalMs, env.random()) - now };
  return checkNow(state, env, now);
}

/** The check itself: a release found, nothing found, or a failed check (reported, retried). */
async function checkNow(state: Of<'steady'>, env: AgentEnv, now: number): Promise<TickResult> {
  const at = new Date(now).toISOString();
  const nextCheckMs = () => checkDelayMs(env.config.checkIntervalMs, env.random());
  try {
    const choice = await env.check(state.booted);
    if (choice.kind === 'none') {
      await env.report({ state: state.kind, lastCheck: at, lastCheckResult: choice.reason });
      return { state: m.findNothing(state, now), delayMs: nextCheckMs() };
    }
    env.log.notice(`found ${choice.release.version} on channel ${choice.release.channel}`);
    await env.report({ state: 'available', lastCheck: at, lastCheckResult: `found ${choice.release.version}`, lastError: null });
    return { state: m.findRelease(state, choice.release), delayMs: 0 };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    env.log.error(`update check failed: ${message}`);
    await env.report({ state: state.kind, lastCheck: at, lastCheckResult: 'failed', lastError: message });
    return { state: m.findNothing(state, now), delayMs: nextCheckMs() };
  }
}

/** available: download, unless this release failed too often (then wait for the next check). */
async function available(state: Of<'available'>, env: AgentEnv): Promise<TickResult> {
  if (state.failedAttempts >= env.config.maxDownloadAttempts) {
    env.log.error(`giving up on ${state.release.version} after ${state.failedAttempts} failed attempts until the next check`);
    return { state: m.abandon(state, env.now()), delayMs: checkDelayMs(env.config.checkIntervalMs, env.random()) };
  }
  return { state: m.startDownload(state), delayMs: 0 };
}

/** downloading: stage the release; a failure backs off, a verification failure retries at once. */
async function downloading(state: Of<'downloading'>, env: AgentEnv): Promise<TickResult> {
  try {
    await env.report({ state: state.kind });
    await env.download(state.booted, state.release);
    env.log.notice(`${state.release.version} written to the other slot, verified, and given a boot entry with 3 tries`);
    await env.report({ state: 'staged', lastError: null });
    return { state: m.stage(state), delayMs: 0 };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    env.log.error(`installing ${state.release.version} failed: ${message}`);
    await env.report({ state: 'available', lastError: message });
    const permanent = error instanceof KeelError && error.kind === 'verification';
    return { state: m.failDownload(state), delayMs: permanent ? 0 : Math.min(600, 15 * 2 ** state.failedAttempts) * second };
  }
}

/** staged: reboot when strategy, window, users and the lock allow; else wait for the right thing. */
async function staged(state: Of<'staged'>, env: AgentEnv, force: boolean, signal?: AbortSignal): Promise<TickResult> {
  const { config } = env;
  const now = env.now();
  const version = state.release.version;
  const decision = decideReboot({
    strategy: config.strategy,
    windowOpen: windowOpen(config.windows, now),
    usersLoggedIn: config.postponeWhileLoggedIn ? await env.usersLoggedIn() : 0,
    postponeWhileLoggedIn: config.postponeWhileLoggedIn,
    postponements: state.postponements,
    maxPostponements: config.maxPostponements,
    force,
  });
  if (decision.kind === 'never') {
    await env.report({ state: state.kind, lastCheckResult: `${version} staged; ${decision.reason}` });
    return { state, delayMs: config.checkIntervalMs };
  }
  if (decision.kind === 'wait') {
    await env.report({ state: state.kind, lastCheckResult: `${version} staged; waiting: ${decision.reason}` });
    return waitFor(decision.waitFor, state, env, now);
  }
  const unready = await env.preReboot?.();
  if (unready !== undefined) {
    env.log.warning(`${version} staged; not asking for a reboot slot: ${unready}; checking again in 60 s`);
    await env.report({ state: state.kind, lastCheckResult: `${version} staged; waiting: ${unready}` });
    return { state, delayMs: 60 * second };
  }
  // A full group is waited for in the lock's queue, never past the window's close: the slot
  // handed over at a release, not found by asking again later.
  const closes = force ? undefined : openUntil(config.windows, now);
  const wait: LockWait = { ms: Math.min(lockWaitMs, closes === undefined ? lockWaitMs : closes - now), ...(signal ? { signal } : {}) };
  if (!(await env.takeLock(decision.lock, version, wait))) {
    await env.report({ state: state.kind, lastCheckResult: `${version} staged; waiting for the reboot lock` });
    // After a wait in the queue, look again at once (the place in line is kept); otherwise pause.
    return { state: m.postpone(state), delayMs: Math.max(0, lockRetryMs - (env.now() - now)) };
  }
  return { state: m.beginReboot(state), delayMs: 0 };
}

/** A postponed reboot: until the window's next opening (node-cron wakes the loop), or a minute for users. */
function waitFor(what: WaitFor, state: Of<'staged'>, env: AgentEnv, now: number): TickResult {
  if (what === 'users') return { state: m.postpone(state), delayMs: 60 * second };
  const opening = nextOpening(env.config.windows, now) ?? now + env.config.checkIntervalMs;
  return { state: m.postpone(state), delayMs: Math.max(second, opening - now), waitingForWindow: true };
}

/** rebooting: ask for the reboot; a failed request goes back to staged. */
async function rebooting(state: Of<'rebooting'>, env: AgentEnv): Promise<TickResult> {
  try {
    await env.report({ state: state.kind });
    await env.reboot(`update to ${state.release.version}`);
    return { state, delayMs: 600 * second };
  } catch (error) {
    await env.report({ state: 'staged', lastError: `reboot failed: ${(error as Error).message}` });
    return { state: m.failReboot(state), delayMs: 60 * second };
  }
}

const steps: { [K in StateKind]: Step<K> } = {
  start,
  booted,
  unhealthy,
  'rolled-back': rolledBack,
  steady,
  available,
  downloading,
  staged,
  rebooting,
};
