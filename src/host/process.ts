/**
 * The process edge: every child process a part runs goes through `runCommand`, so a unit
 * test hands the part a fake `RunCommand` instead of setting environment variables or
 * installing programs. Arguments are passed as a list (no shell); building them is the
 * calling part's pure business.
 */
import { execa } from 'execa';
import { KeelError } from '../errors.js';

export interface CommandOptions {
  /** Written to the child's stdin; without it stdin is closed (no inherited terminal). */
  input?: string | Uint8Array;
  /** Kills the child (SIGTERM) after this long; the result then says `timedOut`. */
  timeoutMs?: number;
  /** Added to the parent's environment. */
  env?: Record<string, string>;
}

/** How a command that started ended. A non-zero exit is a result, not an exception. */
export interface CommandResult {
  /** The exit status; -1 when the child ended by a signal (including the timeout's). */
  exitCode: number;
  /** The signal that ended the child, when one did. */
  signal?: string;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** The shape parts depend on; tests pass a recording fake. */
export type RunCommand = (file: string, args: readonly string[], options?: CommandOptions) => Promise<CommandResult>;

/**
 * Runs `file ARGS...` to the end. Throws a KeelError (`not-found` for a missing program,
 * else `io`) only when the program could not be started at all.
 */
export const runCommand: RunCommand = async (file, args, options = {}) => {
  const r = await execa(file, [...args], {
    reject: false,
    ...(options.input !== undefined ? { input: options.input } : { stdin: 'ignore' as const }),
    ...(options.timeoutMs !== undefined ? { timeout: options.timeoutMs } : {}),
    ...(options.env ? { env: options.env } : {}),
  });
  if (r.failed && r.exitCode === undefined && r.signal === undefined && !r.timedOut) {
    const code = (r as { code?: string }).code;
    throw new KeelError(code === 'ENOENT' ? 'not-found' : 'io', `cannot run ${file}: ${r.shortMessage}`, { cause: r });
  }
  return { exitCode: r.exitCode ?? -1, ...(r.signal ? { signal: r.signal } : {}), stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? ''), timedOut: Boolean(r.timedOut) };
};

/** A child whose stdout is read as it is made: a filter such as `zstd -d` between two streams. */
export interface StreamingChild {
  /** Takes the child's stdin; end() closes it. */
  stdin: NodeJS.WritableStream;
  /** The child's stdout, chunk by chunk. */
  stdout: AsyncIterable<Buffer>;
  /** How it ended (stderr collected); resolves once the child has exited. */
  done: Promise<CommandResult>;
  /** Ends the child early (SIGKILL): a caller that stops reading must not leave it behind. */
  kill(): void;
}

/** The shape parts depend on for filters; tests pass a fake. */
export type StreamCommand = (file: string, args: readonly string[]) => StreamingChild;

/**
 * Starts `file ARGS...` with piped stdin and stdout (no shell). A program that cannot start
 * rejects `done` with a KeelError (`not-found` or `io`), as runCommand throws.
 */
export const streamCommand: StreamCommand = (file, args) => {
  const child = execa(file, [...args], { reject: false, stdin: 'pipe', stdout: 'pipe', buffer: { stdout: false, stderr: true }, encoding: 'buffer' });
  // A write after the child died (EPIPE) is reported through `done`, not as an unhandled error.
  child.stdin.on('error', () => undefined);
  const done = child.then((r) => {
    if (r.failed && r.exitCode === undefined && r.signal === undefined) {
      const code = (r as { code?: string }).code;
      throw new KeelError(code === 'ENOENT' ? 'not-found' : 'io', `cannot run ${file}: ${r.shortMessage}`, { cause: r });
    }
    return { exitCode: r.exitCode ?? -1, ...(r.signal ? { signal: r.signal } : {}), stdout: '', stderr: Buffer.from(r.stderr ?? '').toString('utf8'), timedOut: false };
  });
  return { stdin: child.stdin, stdout: child.stdout as AsyncIterable<Buffer>, done, kill: () => child.kill('SIGKILL') };
};
