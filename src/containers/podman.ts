/**
 * podman as the supervisor calls it directly (image checks and loads, health probes,
 * listing): one binary with the same global flags the units use, through execa.
 */
import { execa } from 'execa';

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
  ) {}

  /** Runs `podman ARGS...` and never throws for a non-zero exit; a missing binary still throws. */
  async run(argv: string[], timeoutMs = 120_000): Promise<PodmanResult> {
    const r = await execa(this.path, [...this.args, ...argv], { reject: false, timeout: timeoutMs, stdin: 'ignore' });
    if (r.failed && r.exitCode === undefined && !r.timedOut) throw new Error(`podman: cannot run ${this.path}: ${r.shortMessage}`);
    return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? ''), timedOut: Boolean(r.timedOut) };
  }
}
