import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { longestTimerMs } from '../duration.js';
import type { Logger } from '../log.js';
import type { AgentState } from './agent-state.js';
import { tick, type AgentEnv } from './agent-tick.js';
import { cronOfWindow } from './maintenance-window.js';

/**
 * The agent's loop: tick, wait, tick. Waits are timers, or node-cron jobs at each
 * maintenance window's opening when the agent waits for a window. SIGUSR1 (sent by
 * `keel update apply`) ticks at once ignoring the window; SIGTERM stops after the current
 * tick. Errors a tick throws are logged and retried from the same state.
 */
export interface DaemonOptions {
  env: AgentEnv;
  log: Logger;
  root: string;
  /** Stop after this state is reached (used by `apply` without a running agent and by tests). */
  until?: (state: AgentState) => boolean;
  force?: boolean;
  signal?: AbortSignal;
}

const pidFileOf = (root: string) => join(root, 'run/keel/update-agent.pid');

/** Asks a running agent to apply now (SIGUSR1); its pid, or undefined when none is running. */
export async function signalRunningAgent(root: string): Promise<number | undefined> {
  const pid = Number((await readFile(pidFileOf(root), 'utf8').catch(() => '')).trim());
  if (!(pid > 0)) return undefined;
  try {
    process.kill(pid, 'SIGUSR1');
    return pid;
  } catch {
    return undefined; // a stale pid file: no agent runs
  }
}

export async function runAgent(o: DaemonOptions): Promise<AgentState> {
  let state: AgentState = { kind: 'start' };
  let force = o.force ?? false;
  let wake: (() => void) | undefined;
  let stopped = false;
  const pidFile = pidFileOf(o.root);
  const onApply = () => {
    o.log.notice('apply requested: checking and rebooting now, ignoring the window');
    force = true;
    wake?.();
  };
  // Ends a tick's wait for the reboot lock too, so a stop never waits for a slot.
  const stopping = new AbortController();
  const onStop = () => {
    stopped = true;
    stopping.abort();
    wake?.();
  };
  const daemon = o.until === undefined;
  if (daemon) {
    await mkdir(join(o.root, 'run/keel'), { recursive: true });
    await writeFile(pidFile, `${process.pid}\n`);
    process.on('SIGUSR1', onApply);
    process.on('SIGTERM', onStop);
    process.on('SIGINT', onStop);
  }
  o.signal?.addEventListener('abort', onStop);
  // node-cron is loaded only when there are windows to wake up for.
  const cron = o.env.config.windows.length ? (await import('node-cron')).default : undefined;
  const windowJobs = (cron ? o.env.config.windows : []).map((w) => cron!.createTask(cronOfWindow(w), () => wake?.(), { timezone: w.timeZone, name: `keel-window-${cronOfWindow(w)}` }));
  try {
    while (!stopped) {
      let result;
      try {
        result = await tick(state, o.env, force, stopping.signal);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        o.log.error(`update agent (${state.kind}): ${message}; retrying in 30 s`);
        await o.env.report({ state: state.kind, lastError: message }).catch(() => undefined);
        result = { state, delayMs: 30_000 };
      }
      const changed = result.state.kind !== state.kind;
      if (changed) o.log.debug(`${state.kind} → ${result.state.kind}`);
      state = result.state;
      if (changed) await o.env.stateChanged?.(state).catch((error) => o.log.warning(`fleet: ${(error as Error).message}`));
      if (force && (state.kind === 'rebooting' || (state.kind === 'steady' && state.lastCheckMs !== undefined))) force = false;
      if (o.until?.(state)) break;
      // SIGTERM may arrive during the tick (systemd stops us right after `systemctl reboot`
      // returns): wake was not set then, so look before sleeping, or the stop waits 90 s.
      if (stopped) break;
      if (result.delayMs <= 0) continue;
      for (const job of windowJobs) if (result.waitingForWindow) job.start();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(result.delayMs, longestTimerMs));
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
      for (const job of windowJobs) job.stop();
    }
  } finally {
    for (const job of windowJobs) job.destroy();
    if (daemon) {
      process.off('SIGUSR1', onApply);
      process.off('SIGTERM', onStop);
      process.off('SIGINT', onStop);
      await rm(pidFile, { force: true });
    }
  }
  return state;
}
