/**
 * keel's one error family. `kind` is a small closed set a caller can switch on;
 * the message is the human sentence (lowercase, what was found, what happens next).
 */
export type ErrorKind =
  | 'invalid-input' // bad config, bad arguments a user can fix: exit 1, do not retry
  | 'usage' // command-line misuse: exit 2
  | 'not-found'
  | 'conflict' // two operations or holders that cannot both be
  | 'unsafe-path' // a path that would leave the root
  | 'verification' // a signature, hash, size or expiry check failed
  | 'unavailable' // a service (etcd, D-Bus, HTTP) did not answer: retrying may help
  | 'io'
  | 'internal';

export class KeelError extends Error {
  readonly kind: ErrorKind;
  constructor(kind: ErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KeelError';
    this.kind = kind;
  }
}

/** The CLI's exit code for an error: 2 for usage, 1 for everything else. */
export function exitCodeOf(error: unknown): number {
  return error instanceof KeelError && error.kind === 'usage' ? 2 : 1;
}
