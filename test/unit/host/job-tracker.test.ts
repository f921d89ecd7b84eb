import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { KeelError } from '../../../src/errors.js';
import { JobTracker } from '../../../src/host/job-tracker.js';

const removed = (job: string, result = 'done', unit = 'a.service') => ({ job, unit, result });

describe('JobTracker', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  test('JobRemoved after the reply resolves the waiter', async () => {
    const jobs = new JobTracker();
    const waiting = jobs.wait('/job/1', 'a.service', 1000);
    jobs.jobRemoved(removed('/job/1'));
    await expect(waiting).resolves.toEqual(removed('/job/1'));
    expect(jobs.sizes).toEqual({ waiting: 0, kept: 0 });
  });

  test('JobRemoved before the reply is kept and handed over', async () => {
    const jobs = new JobTracker();
    jobs.jobRemoved(removed('/job/2', 'failed'));
    expect(jobs.sizes).toEqual({ waiting: 0, kept: 1 });
    await expect(jobs.wait('/job/2', 'a.service', 1000)).resolves.toMatchObject({ result: 'failed' });
    expect(jobs.sizes.kept).toBe(0);
  });

  test('each waiter gets its own job, in any order', async () => {
    const jobs = new JobTracker();
    const w = ['/job/3', '/job/4', '/job/5'].map((j) => jobs.wait(j, 'a.service', 1000));
    jobs.jobRemoved(removed('/job/5', 'canceled'));
    jobs.jobRemoved(removed('/job/3', 'done'));
    jobs.jobRemoved(removed('/job/4', 'timeout'));
    expect((await Promise.all(w)).map((r) => r.result)).toEqual(['done', 'timeout', 'canceled']);
  });

  test('a job that never finishes fails with unavailable after the timeout', async () => {
    const jobs = new JobTracker();
    const waiting = jobs.wait('/job/6', 'slow.service', 500);
    vi.advanceTimersByTime(500);
    await expect(waiting).rejects.toMatchObject({ kind: 'unavailable', message: expect.stringContaining('slow.service') });
    expect(jobs.sizes.waiting).toBe(0);
  });

  test('failAll rejects every waiter naming its unit and job', async () => {
    const jobs = new JobTracker();
    const a = jobs.wait('/job/7', 'x.service', 1000);
    const b = jobs.wait('/job/8', 'y.service', 1000);
    jobs.failAll(new KeelError('unavailable', 'systemd: connection lost'));
    await expect(a).rejects.toThrow('systemd: connection lost (unit x.service, job /job/7)');
    await expect(b).rejects.toThrow('(unit y.service, job /job/8)');
  });

  test.each([
    ['by age', 1000, 100, [0, 600, 1500], ['/job/b', '/job/c']],
    ['by count', 1_000_000, 2, [0, 1, 2], ['/job/b', '/job/c']],
  ])('unclaimed jobs are forgotten %s', (_, keepMs, keepMax, times, kept) => {
    let now = 0;
    const jobs = new JobTracker(() => now, keepMs, keepMax);
    ['/job/a', '/job/b', '/job/c'].forEach((job, i) => {
      now = times[i]!;
      jobs.jobRemoved(removed(job));
    });
    expect(jobs.sizes.kept).toBe(kept.length);
  });
});
