// `./bin/keel lock serve` as a child process for the FleetLock integration tests: started on a
// free loopback port, its base URL read from its "listening on" line, stopped with SIGTERM.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export interface LockServeProcess {
  process: ChildProcess;
  /** The URL the server printed, e.g. `http://127.0.0.1:40123/fleetlock`. */
  base: string;
  /** Everything the server wrote to stderr so far (its log). */
  log(): string;
  stop(): Promise<void>;
}

/** Starts `keel lock serve ARGS…`; rejects with the server's log if it exits or is silent for 10 s. */
export async function startLockServe(args: readonly string[]): Promise<LockServeProcess> {
  const child = spawn(join(process.cwd(), 'bin/keel'), ['lock', 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (c) => (log += c));
  const base = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c) => {
      out += c;
      const m = /listening on (\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`keel lock serve exited ${code}: ${log}`)));
    setTimeout(() => reject(new Error(`keel lock serve did not start in 10 s: ${log}`)), 10_000);
  });
  return {
    process: child,
    base,
    log: () => log,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
