/**
 * Commands inside a systemd-ns guest through nsenter (its namespaces, its root as `/`),
 * and the wait for systemd to say the system is running.
 */
import type { ChildProcess } from 'node:child_process';
import { execa } from 'execa';

export interface ExecOptions {
  input?: string;
  env?: Record<string, string>;
  /** Throw (with the output) when the command exits non-zero. Default true. */
  reject?: boolean;
  timeoutMs?: number;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export type GuestExec = (argv: string[], options?: ExecOptions) => Promise<ExecResult>;

const guestPath = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Runs argv in the namespaces of host pid `pid()` (the guest's PID 1, once it is known). */
export function guestExec(name: string, pid: () => number): GuestExec {
  return async (argv, opts = {}) => {
    const ns = ['-t', String(pid()), '-m', '-u', '-i', '-p', '-C', '-r', '-w', '--'];
    // nsenter forks to enter the pid namespace; killing only nsenter (execa's timeout) leaves
    // the command running with our pipes open, and the exec never returns. So nsenter gets a
    // process group of its own, and a timeout kills the whole group.
    const subprocess = execa('nsenter', [...ns, ...argv], {
      reject: false,
      stripFinalNewline: false,
      extendEnv: false,
      detached: true,
      env: { PATH: guestPath, HOME: '/root', LANG: 'C.UTF-8', SYSTEMD_COLORS: '0', ...opts.env },
      ...(opts.input !== undefined ? { input: opts.input } : {}),
    });
    let timedOut = false;
    const timer = opts.timeoutMs === undefined ? undefined : setTimeout(() => {
      timedOut = true;
      try {
        if (subprocess.pid) process.kill(-subprocess.pid, 'SIGKILL');
      } catch {}
    }, opts.timeoutMs);
    const result = await subprocess.finally(() => clearTimeout(timer));
    const out = {
      exitCode: result.exitCode ?? -1,
      stdout: String(result.stdout ?? ''),
      stderr: String(result.stderr ?? '') + (timedOut ? `\n(killed by the test harness after ${opts.timeoutMs} ms)\n` : ''),
    };
    if ((opts.reject ?? true) && out.exitCode !== 0) {
      throw new Error(
        `guest ${name}: \`${argv.join(' ')}\` exited ${out.exitCode}${timedOut ? ` (killed after ${opts.timeoutMs} ms)` : ''}\n` +
          `stdout:\n${out.stdout}\nstderr:\n${out.stderr}`,
      );
    }
    return out;
  };
}

/** Waits for `systemctl is-system-running` to say running or degraded; returns which. */
export async function waitRunning(exec: GuestExec, child: ChildProcess, timeoutMs: number, logs: () => Promise<string>): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let state = '';
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`systemd-ns: systemd exited ${child.exitCode} while booting\n${await logs()}`);
    state = (await exec(['systemctl', 'is-system-running'], { reject: false, timeoutMs: 5000 })).stdout.trim();
    if (state === 'running' || state === 'degraded') return state;
    if (state === 'maintenance' || state === 'stopping') break;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  const failed = await exec(['systemctl', '--failed', '--no-pager'], { reject: false, timeoutMs: 5000 }).catch(() => undefined);
  throw new Error(
    `systemd-ns: system state is '${state}' after ${timeoutMs} ms; expected running or degraded\n` +
      `${failed?.stdout ?? ''}\n${await logs()}`,
  );
}
