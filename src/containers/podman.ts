/**
 * podman as the supervisor calls it directly (image checks and loads, health probes,
 * listing): one binary with the same global flags the units use. The argv is built here;
 * the spawn is the host's process edge, which a unit test replaces with a fake.
 */
import { KeelError } from '../errors.js';
import { runCommand, type RunCommand } from '../host/process.js';

export interface PodmanResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Runs podman subcommands; `args` are the global flags (the same as RenderOptions.podmanArgs). */
export class Podman {
  constructor(
    readonly path = '/usr/bin/podman',
    readonly args: string[] = [],
    private readonly runProcess: RunCommand = runCommand,
  ) {}

  /**
   * Runs `podman ARGS...` and never throws for a non-zero exit or a timeout; a missing
   * binary, or a podman killed by a signal it was not sent for the timeout, still throws.
   */
  async run(argv: string[], timeoutMs = 120_000): Promise<PodmanResult> {
    const r = await this.runProcess(this.path, [...this.args, ...argv], { timeoutMs }).catch((error: Error) => {
      throw new KeelError(error instanceof KeelError ? error.kind : 'io', `podman: ${error.message}`, { cause: error });
    });
    if (r.signal !== undefined && !r.timedOut) throw new KeelError('io', `podman: cannot run ${this.path}: killed by ${r.signal}`);
    return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr, timedOut: r.timedOut };
  }
}
