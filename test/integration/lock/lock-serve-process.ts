// `./bin/keel lock serve` as a child process for the FleetLock integration tests, on the
// harness's server starter; `base` is the URL it printed.
import { startServe, type ServeProcess } from '../../harness/serve-process.js';

export interface LockServeProcess extends ServeProcess {
  /** The URL the server printed, e.g. `http://127.0.0.1:40123/fleetlock`. */
  base: string;
}

/** Starts `keel lock serve ARGS…`; rejects with the server's log if it exits or stays silent. */
export async function startLockServe(args: readonly string[]): Promise<LockServeProcess> {
  const serve = await startServe(['lock', 'serve', ...args]);
  return { ...serve, base: serve.url };
}
