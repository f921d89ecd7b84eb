/**
 * The process edge for commands whose output is bytes, not text (a file read out of a disk
 * image with mcopy or isoinfo): stdout kept as it came, no newline stripped, and bounded,
 * so a huge file cannot fill memory. Text commands use `runCommand` (process.ts).
 */
import { execa } from 'execa';
import { KeelError } from '../errors.js';
import type { CommandOptions } from './process.js';

export interface BytesCommandOptions extends CommandOptions {
  /** Kills the child once its stdout passes this many bytes; the result then says `overLimit`. */
  maxOutputBytes?: number;
}

/** How a command that started ended, with its stdout as bytes. A non-zero exit is a result. */
export interface BytesCommandResult {
  /** The exit status; -1 when the child ended by a signal (including the timeout's or the limit's). */
  exitCode: number;
  stdout: Uint8Array;
  stderr: string;
  timedOut: boolean;
  /** stdout passed `maxOutputBytes` and the child was stopped; `stdout` is cut there. */
  overLimit: boolean;
}

/** The shape parts depend on; tests pass a fake. */
export type RunCommandBytes = (file: string, args: readonly string[], options?: BytesCommandOptions) => Promise<BytesCommandResult>;

/**
 * Runs `file ARGS...` to the end, keeping stdout as bytes. Throws a KeelError (`not-found`
 * for a missing program, else `io`) only when the program could not be started at all.
 */
export const runCommandBytes: RunCommandBytes = async (file, args, options = {}) => {
  const r = await execa(file, [...args], {
    reject: false,
    encoding: 'buffer',
    stripFinalNewline: false,
    ...(options.input !== undefined ? { input: options.input } : { stdin: 'ignore' as const }),
    ...(options.timeoutMs !== undefined ? { timeout: options.timeoutMs } : {}),
    ...(options.env ? { env: options.env } : {}),
    ...(options.maxOutputBytes !== undefined ? { maxBuffer: { stdout: options.maxOutputBytes } } : {}),
  });
  if (r.failed && r.exitCode === undefined && r.signal === undefined && !r.timedOut && !r.isMaxBuffer) {
    const code = (r as { code?: string }).code;
    throw new KeelError(code === 'ENOENT' ? 'not-found' : 'io', `cannot run ${file}: ${r.shortMessage}`, { cause: r });
  }
  return {
    exitCode: r.exitCode ?? -1,
    stdout: new Uint8Array(r.stdout ?? new Uint8Array()),
    stderr: Buffer.from(r.stderr ?? new Uint8Array()).toString('utf8'),
    timedOut: Boolean(r.timedOut),
    overLimit: Boolean(r.isMaxBuffer),
  };
};
