/**
 * One qemu process of a test VM: spawned under `setpriv --pdeathsig KILL` in a process
 * group of its own, answering on QMP once started, its stderr appended to a file (the last 4000 characters kept for error
 * messages), its stdout (the serial console) handed on as text. Every live qemu of this
 * test process is killed with its group when the process exits or is signalled.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { qmpCommand } from './qmp.js';

export interface QemuExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface QemuHooks {
  /** Console text as it comes. */
  stdout(chunk: string): void;
  /** qemu ended; runs before `exited` resolves. */
  closed(exit: QemuExit): void;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

export class QemuProcess {
  /** The tail of qemu's stderr (the harness appends a failed relaunch's error too). */
  stderrTail = '';
  readonly exited: Promise<QemuExit>;
  private readonly child: ChildProcess;

  constructor(argv: string[], stderrFile: string, hooks: QemuHooks) {
    installExitHook();
    // setpriv: qemu gets SIGKILL if this process dies without running its exit hooks.
    const child = spawn('setpriv', ['--pdeathsig', 'KILL', ...argv], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    live.add(child);
    const stderr = createWriteStream(stderrFile, { flags: 'a' });
    child.stderr!.on('data', (d: Buffer) => {
      stderr.write(d);
      this.stderrTail = (this.stderrTail + d.toString('utf8')).slice(-4000);
    });
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => hooks.stdout(chunk));
    this.exited = new Promise((resolveExit) => {
      child.on('close', (code, signal) => {
        live.delete(child);
        stderr.end();
        hooks.closed({ code, signal });
        resolveExit({ code, signal });
      });
    });
  }

  /** The process id (also its process group id). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** True once qemu answers on QMP (devices, forwards and firmware are set up); false if it ends or 30 s pass first. */
  async started(qmpSocket: string): Promise<boolean> {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (!this.alive) {
        await this.exited;
        return false;
      }
      try {
        await qmpCommand(qmpSocket, 'query-status', undefined, 2000);
        return true;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    return false;
  }

  /** SIGKILL to the process group; `exited` says when it is gone. */
  kill(): void {
    killGroup(this.child);
  }
}

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** Kills every VM of this process with its process group; runs on process exit too. */
function killAll(): void {
  for (const child of live) killGroup(child);
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAll();
      process.kill(process.pid, signal);
    });
  }
}
