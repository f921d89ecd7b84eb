// A keel server (`keel lock serve`, `keel fleet serve`) as a child process: started from
// ./bin/keel, its URL read from its "listening on URL" line, stopped with SIGTERM.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export interface ServeProcess {
  process: ChildProcess;
  /** The URL the server printed, e.g. `http://127.0.0.1:40123/fleetlock`. */
  url: string;
  /** Everything the server wrote to stderr so far (its log). */
  log(): string;
  stop(): Promise<void>;
}

/** Starts `keel ARGS…`; rejects with the server's log if it exits or stays silent for 15 s. */
export async function startServe(args: readonly string[]): Promise<ServeProcess> {
  const child = spawn(join(process.cwd(), 'bin/keel'), [...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const what = `keel ${args.slice(0, 2).join(' ')}`;
  let log = '';
  child.stderr!.on('data', (c) => (log += c));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c) => {
      out += c;
      const m = /listening on (\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`${what} exited ${code}: ${log}`)));
    setTimeout(() => reject(new Error(`${what} did not start in 15 s: ${log}`)), 15_000);
  });
  return {
    process: child,
    url,
    log: () => log,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
