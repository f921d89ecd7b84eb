/**
 * Matches systemd's `JobRemoved` signals to the callers waiting for those jobs. A signal can
 * arrive before the reply that tells the caller its job path, so finished jobs nobody waits
 * for yet are kept (for two minutes, at most 10 000) and handed over when the caller asks.
 * No I/O: the clock and timers are the only things it touches, and the clock is passed in.
 */
import { KeelError } from '../errors.js';

/** A finished job. `result` is `done`, `failed`, `timeout`, `dependency`, `canceled` or `skipped`. */
export interface JobResult {
  unit: string;
  job: string;
  result: string;
}

interface Waiter {
  unit: string;
  resolve(result: JobResult): void;
  reject(error: Error): void;
}

export class JobTracker {
  private readonly finished = new Map<string, { result: JobResult; at: number }>();
  private readonly waiters = new Map<string, Waiter>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly keepMs = 120_000,
    private readonly keepMax = 10_000,
  ) {}

  /** Records a JobRemoved: resolves its waiter, or keeps it for one that comes later. */
  jobRemoved(result: JobResult): void {
    const waiter = this.waiters.get(result.job);
    if (waiter) {
      this.waiters.delete(result.job);
      waiter.resolve(result);
      return;
    }
    const now = this.now();
    this.finished.set(result.job, { result, at: now });
    // Most jobs nobody waits for (other clients', dependencies'): forget the old ones.
    for (const [job, entry] of this.finished) {
      if (now - entry.at < this.keepMs && this.finished.size <= this.keepMax) break;
      this.finished.delete(job);
    }
  }

  /** Waits for `job`'s JobRemoved (maybe already here); fails with `unavailable` after `timeoutMs`. */
  wait(job: string, unit: string, timeoutMs: number): Promise<JobResult> {
    const done = this.finished.get(job);
    if (done) {
      this.finished.delete(job);
      return Promise.resolve(done.result);
    }
    return new Promise<JobResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(job);
        reject(new KeelError('unavailable', `systemd: job ${job} for unit ${unit} not finished after ${timeoutMs} ms; not waiting longer`));
      }, timeoutMs);
      this.waiters.set(job, {
        unit,
        resolve: (r) => (clearTimeout(timer), resolve(r)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
    });
  }

  /** Fails every waiter (the connection went, or systemd re-executed): their results are unknown. */
  failAll(error: KeelError): void {
    for (const [job, waiter] of this.waiters) {
      waiter.reject(new KeelError(error.kind, `${error.message} (unit ${waiter.unit}, job ${job})`, { cause: error }));
    }
    this.waiters.clear();
  }

  /** How many jobs are awaited and how many finished ones are kept, for tests and logs. */
  get sizes(): { waiting: number; kept: number } {
    return { waiting: this.waiters.size, kept: this.finished.size };
  }
}
