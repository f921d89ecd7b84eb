import { KeelError } from '../errors.js';
import type { Logger } from '../log.js';
import * as m from './agent-state.js';
import type { AgentState, Booted } from './agent-state.js';
import { nextOpening, windowOpen } from './maintenance-window.js';
import type { Release } from './release.js';
import type { Choice } from './release-choice.js';
import { checkDelayMs, decideReboot, type LockMode } from './reboot-policy.js';
import type { UpdateConfig } from './update-config.js';

/**
 * The agent's one effectful step: look at the state, do the one side effect it calls for
 * through `AgentEnv`, take the matching edge of the pure machine and say when to tick
 * again. All waiting is the caller's (a timer, or node-cron at a window's opening).
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
  /** Record a version that failed its health gate (never installed again) and clean up its entry. */
  recordFailed(version: string): Promise<void>;
  /** Reboots already made for a failing trial slot of this version (persisted), after counting one more when `add`. */
  unhealthyReboots(version: string, add: boolean): Promise<number>;
  /** A release already written and given an entry (a `.pending` record), if any. */
  stagedRelease(booted: Booted): Promise<Release | undefined>;
  check(booted: Booted): Promise<Choice>;
  /** Stream the slot, verify, put kernel, initramfs and a counted entry on the ESP. */
  download(booted: Booted, release: Release): Promise<void>;
  usersLoggedIn(): Promise<number>;
  /** Take the reboot lock in a mode: true when the reboot may go ahead. */
  takeLock(mode: LockMode): Promise<boolean>;
  reboot(reason: string): Promise<void>;
  /** Persist facts for `keel update status`. */
  report(fields: { state: string; lastCheck?: string; lastCheckResult?: string; lastError?: string | null }): Promise<void>;
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

/** One step. `force` (keel update apply) checks now and ignores the window. */
export async function tick(state: AgentState, env: AgentEnv, force = false): Promise<TickResult> {
  const { config, log } = env;
  switch (state.kind) {
    case 'start': {
      const facts = await env.bootFacts();
      log.info(`booted slot ${facts.booted.slot} with ${facts.booted.version}${facts.trial ? ' (on trial: not blessed yet)' : ''}`);
      return { state: m.initialize(state, facts.booted, facts.trial), delayMs: 0 };
    }
    case 'booted': {
      const healthy = await env.health();
      if (healthy === undefined) return { state, delayMs: healthWaitMs };
      if (healthy) {
        const failed = await env.findRollback(state.booted);
        if (failed) return { state: m.detectRollback(state, failed), delayMs: 0 };
        await env.markGood(state.booted, state.trial);
        log.notice(`${state.booted.version} in slot ${state.booted.slot} passed the health gate: marked good, reboot lock released`);
        return { state: m.passHealth(state), delayMs: 0 };
      }
      if (state.trial) {
        log.error(`${state.booted.version} in slot ${state.booted.slot} failed the health gate: not blessed; rebooting until its tries run out`);
        return { state: m.failHealth(state), delayMs: 0 };
      }
      await env.report({ state: state.kind, lastError: `the health gate failed on ${state.booted.version}, a blessed slot: not updating until it passes` });
      return { state, delayMs: 60 * second };
    }
    case 'unhealthy': {
      const done = await env.unhealthyReboots(state.booted.version, false);
      if (done >= config.maxUnhealthyReboots) {
        await env.report({ state: state.kind, lastError: `${state.booted.version} failed its health gate and ${done} reboots did not bring the previous slot back; staying up for an operator` });
        return { state, delayMs: 3600 * second };
      }
      await env.unhealthyReboots(state.booted.version, true);
      await env.report({ state: state.kind, lastError: `${state.booted.version} failed its health gate; reboot ${done + 1} of at most ${config.maxUnhealthyReboots}` });
      await env.reboot(`${state.booted.version} failed its health gate`);
      return { state: m.rebootUnhealthy(state), delayMs: 600 * second };
    }
    case 'rolled-back': {
      await env.recordFailed(state.failedVersion);
      await env.markGood(state.booted, false);
      const message = `${state.failedVersion} failed its health gate and ran out of tries: rolled back to ${state.booted.version} in slot ${state.booted.slot}; ${state.failedVersion} will not be installed again`;
      log.error(message);
      await env.report({ state: 'steady', lastError: message });
      return { state: m.reportRollback(state), delayMs: 0 };
    }
    case 'steady': {
      const staged = await env.stagedRelease(state.booted);
      if (staged) return { state: m.restoreStaged(state, staged), delayMs: 0 };
      const now = env.now();
      if (!config.server) {
        await env.report({ state: state.kind, lastCheckResult: 'no update server configured (SERVER in update.conf)' });
        return { state, delayMs: config.checkIntervalMs };
      }
      if (!force && state.lastCheckMs !== undefined && now - state.lastCheckMs < config.checkIntervalMs)
        return { state, delayMs: state.lastCheckMs + checkDelayMs(config.checkIntervalMs, env.random()) - now };
      try {
        const choice = await env.check(state.booted);
        const at = new Date(now).toISOString();
        if (choice.kind === 'none') {
          await env.report({ state: state.kind, lastCheck: at, lastCheckResult: choice.reason });
          return { state: m.findNothing(state, now), delayMs: checkDelayMs(config.checkIntervalMs, env.random()) };
        }
        log.notice(`found ${choice.release.version} on channel ${choice.release.channel}`);
        await env.report({ state: 'available', lastCheck: at, lastCheckResult: `found ${choice.release.version}`, lastError: null });
        return { state: m.findRelease(state, choice.release), delayMs: 0 };
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        log.error(`update check failed: ${message}`);
        await env.report({ state: state.kind, lastCheck: new Date(now).toISOString(), lastCheckResult: 'failed', lastError: message });
        return { state: m.findNothing(state, now), delayMs: checkDelayMs(config.checkIntervalMs, env.random()) };
      }
    }
    case 'available': {
      if (state.failedAttempts >= config.maxDownloadAttempts) {
        log.error(`giving up on ${state.release.version} after ${state.failedAttempts} failed attempts until the next check`);
        return { state: m.abandon(state, env.now()), delayMs: checkDelayMs(config.checkIntervalMs, env.random()) };
      }
      return { state: m.startDownload(state), delayMs: 0 };
    }
    case 'downloading': {
      try {
        await env.report({ state: state.kind });
        await env.download(state.booted, state.release);
        log.notice(`${state.release.version} written to the other slot, verified, and given a boot entry with 3 tries`);
        await env.report({ state: 'staged', lastError: null });
        return { state: m.stage(state), delayMs: 0 };
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        log.error(`installing ${state.release.version} failed: ${message}`);
        await env.report({ state: 'available', lastError: message });
        const permanent = error instanceof KeelError && error.kind === 'verification';
        return { state: m.failDownload(state), delayMs: permanent ? 0 : Math.min(600, 15 * 2 ** state.failedAttempts) * second };
      }
    }
    case 'staged': {
      const now = env.now();
      const users = config.postponeWhileLoggedIn ? await env.usersLoggedIn() : 0;
      const decision = decideReboot({
        strategy: config.strategy,
        windowOpen: windowOpen(config.windows, now),
        usersLoggedIn: users,
        postponeWhileLoggedIn: config.postponeWhileLoggedIn,
        postponements: state.postponements,
        maxPostponements: config.maxPostponements,
        force,
      });
      if (decision.kind === 'never') {
        await env.report({ state: state.kind, lastCheckResult: `${state.release.version} staged; ${decision.reason}` });
        return { state, delayMs: config.checkIntervalMs };
      }
      if (decision.kind === 'wait') {
        await env.report({ state: state.kind, lastCheckResult: `${state.release.version} staged; waiting: ${decision.reason}` });
        if (decision.reason.startsWith('outside')) {
          const opening = nextOpening(config.windows, now) ?? now + config.checkIntervalMs;
          return { state: m.postpone(state), delayMs: Math.max(second, opening - now), waitingForWindow: true };
        }
        return { state: m.postpone(state), delayMs: 60 * second };
      }
      if (!(await env.takeLock(decision.lock))) {
        await env.report({ state: state.kind, lastCheckResult: `${state.release.version} staged; waiting for the reboot lock` });
        return { state: m.postpone(state), delayMs: 30 * second };
      }
      return { state: m.beginReboot(state), delayMs: 0 };
    }
    case 'rebooting': {
      try {
        await env.report({ state: state.kind });
        await env.reboot(`update to ${state.release.version}`);
        return { state, delayMs: 600 * second };
      } catch (error) {
        await env.report({ state: 'staged', lastError: `reboot failed: ${(error as Error).message}` });
        return { state: m.failReboot(state), delayMs: 60 * second };
      }
    }
  }
}
