// Rollout records: each transition idempotent per node; failures halt at max_failures naming
// the node and error; an operator halt and resume; malformed records skipped with a warning.
import { describe, expect, test } from 'vitest';
import { formatRolloutRecord, halt, newRollout, readRolloutRecord, recordFailed, recordStarted, recordSucceeded, resume, rolloutDiff, withMarks, type RolloutRecord, type RolloutStep } from '../../../src/fleet/rollout-record.js';
import type { RolloutPolicy } from '../../../src/fleet/rollout-policy.js';

const t0 = '2026-12-03T10:00:00.000Z';
const t1 = '2026-12-03T10:05:00.000Z';
const two: RolloutPolicy = { maxFailures: { kind: 'count', count: 2 }, healthDeadlineMs: 600_000 };
const tenPct: RolloutPolicy = { maxFailures: { kind: 'percent', percent: 10 }, healthDeadlineMs: 600_000 };

function ok(step: RolloutStep): RolloutRecord {
  if (!step.ok) throw new Error(step.reason);
  return step.record;
}
const fail = (id: string, error = `${id} broke`) => ({ machineId: id, error, at: t1 });

describe('rollout transitions', () => {
  test('started and succeeded count each node once', () => {
    let r = newRollout('1.1.0', t0);
    r = ok(recordStarted(r, 'n1', t0));
    const again = recordStarted(r, 'n1', t1);
    expect(again).toEqual({ ok: true, record: r, changed: false });
    r = ok(recordSucceeded(r, 'n1', t1));
    r = ok(recordSucceeded(r, 'n2', t1)); // succeeded without a recorded start: counted as started too
    expect(recordSucceeded(r, 'n2', t1)).toMatchObject({ changed: false });
    expect(r).toMatchObject({ started: ['n1', 'n2'], succeeded: ['n1', 'n2'], failed: [], updatedAt: t1 });
  });

  test.each([
    ['the first of two allowed does not halt', two, 10, ['n1'], undefined],
    ['the second of two halts, naming it', two, 10, ['n1', 'n2'], 'n2'],
    ['a repeated failure counts once', two, 10, ['n1', 'n1'], undefined],
    ['10% of 10 halts on the first', tenPct, 10, ['n1'], 'n1'],
    ['10% of 30 halts on the third', tenPct, 30, ['n1', 'n2', 'n3'], 'n3'],
    ['10% of 30: two do not', tenPct, 30, ['n1', 'n2'], undefined],
  ])('%s', (_name, policy, size, failures, tripper) => {
    let r = newRollout('1.1.0', t0);
    for (const id of failures) r = ok(recordFailed(r, fail(id), policy, size));
    expect(r.failed.map((f) => f.machineId)).toEqual([...new Set(failures)]);
    if (tripper === undefined) expect(r.halted).toBeUndefined();
    else expect(r.halted).toEqual({ at: t1, by: 'policy', machineId: tripper, error: `${tripper} broke`, reason: expect.stringMatching(/failed, reaching max_failures/) });
  });

  test('a percentage halt names the count it stands for', () => {
    let r = newRollout('1.1.0', t0);
    for (const id of ['n1', 'n2', 'n3']) r = ok(recordFailed(r, fail(id), tenPct, 30));
    expect(r.halted?.reason).toBe('3 of 30 nodes failed, reaching max_failures 10% (3 nodes)');
  });

  test('a halted rollout refuses starts, keeps the first halt, counts later failures and successes', () => {
    let r = ok(recordFailed(newRollout('1.1.0', t0), fail('n1', 'health gate: unit web.service failed'), { ...two, maxFailures: { kind: 'count', count: 1 } }, 3));
    expect(r.halted?.reason).toBe('1 of 3 nodes failed, reaching max_failures 1');
    const refused = recordStarted(r, 'n2', t1);
    expect(refused).toEqual({ ok: false, reason: expect.stringContaining('rollout of 1.1.0 is halted since 2026-12-03T10:05:00.000Z by policy: 1 of 3 nodes failed') });
    expect((refused as { reason: string }).reason).toContain('(tripped by n1: health gate: unit web.service failed); not rebooting into it');
    expect(halt(r, 'manual', t1)).toMatchObject({ changed: false });
    r = ok(recordFailed(r, fail('n3'), two, 3));
    expect(r.failed).toHaveLength(2);
    expect(r.halted?.machineId).toBe('n1');
    r = ok(recordSucceeded(r, 'n4', t1));
    expect(r.succeeded).toEqual(['n4']);
  });

  test('operator halt and resume; a failure after resume halts again', () => {
    let r = ok(halt(newRollout('1.1.0', t0), 'bad kernel on arm', t0));
    expect(r.halted).toEqual({ at: t0, by: 'operator', reason: 'bad kernel on arm' });
    r = ok(resume(r, t1));
    expect(r.halted).toBeUndefined();
    expect(resume(r, t1)).toMatchObject({ changed: false });
    r = ok(recordFailed(r, fail('n1'), { ...two, maxFailures: { kind: 'count', count: 1 } }, 3));
    r = ok(resume(r, t1));
    expect(recordStarted(r, 'n2', t1).ok).toBe(true);
    r = ok(recordFailed(r, fail('n2'), { ...two, maxFailures: { kind: 'count', count: 1 } }, 3));
    expect(r.halted?.machineId).toBe('n2');
  });
});

describe('rollout record reader', () => {
  const key = '/keel/fleet/g/rollouts/1.1.0';
  const full = ok(recordFailed(ok(recordStarted(newRollout('1.1.0', t0), 'n1', t0)), fail('n2'), { ...two, maxFailures: { kind: 'count', count: 1 } }, 2));
  const text = (over: Record<string, unknown>) => JSON.stringify({ ...JSON.parse(formatRolloutRecord(full)), ...over });

  test('round trip: the stored value leaves the marks to their own keys; withMarks puts them back', () => {
    const read = readRolloutRecord(key, formatRolloutRecord(full), '1.1.0') as { record: RolloutRecord };
    expect(read.record).toEqual({ ...full, started: [], succeeded: [] });
    expect(withMarks(read.record, full.started, full.succeeded)).toEqual(full);
    // A value that still lists them (a hand-written one) is read with its lists.
    expect(readRolloutRecord(key, JSON.stringify(full), '1.1.0')).toEqual({ record: full });
  });

  test.each([
    ['a new start is a mark, not a value change', (r: RolloutRecord) => recordStarted(r, 'n7', t1), { started: ['n7'], succeeded: [], value: false }],
    ['a success marks both lists when the start was not seen', (r: RolloutRecord) => recordSucceeded(r, 'n7', t1), { started: ['n7'], succeeded: ['n7'], value: false }],
    ['a failure changes the value and marks the start', (r: RolloutRecord) => recordFailed(r, fail('n7'), two, 10), { started: ['n7'], succeeded: [], value: true }],
    ['a halt changes the value only', (r: RolloutRecord) => halt(r, 'x', t1), { started: [], succeeded: [], value: true }],
  ])('rolloutDiff: %s', (_name, step, want) => {
    const before = newRollout('1.1.0', t0);
    expect(rolloutDiff(before, ok(step(before)))).toEqual(want);
  });

  test.each([
    ['unparsable', 'nope', 'expected JSON'],
    ['foreign', text({ schema: 'other' }), 'schema: expected "keel.fleet.rollout/v1", found "other"'],
    ['another version', text({ version: '2.0' }), 'version: expected "1.1.0" (the key\'s), found "2.0"'],
    ['started not a list', text({ started: 'n1' }), 'started: expected a list, found "n1"'],
    ['a bad id in succeeded', text({ succeeded: ['ok', 5] }), 'succeeded[1]: expected a machine id, found 5'],
    ['a failure without an error', text({ failed: [{ machineId: 'n1', at: t0 }] }), 'failed[0].error: expected a non-empty string'],
    ['a failure that is a string', text({ failed: ['n1'] }), 'failed[0]: expected an object'],
    ['halted by someone else', text({ halted: { at: t0, by: 'cat', reason: 'x' } }), 'halted.by: expected policy or operator, found "cat"'],
  ])('skips %s with a warning naming the key', (_name, value, message) => {
    const r = readRolloutRecord(key, value, '1.1.0') as { warning: string };
    expect(r.warning).toContain(message);
    expect(r.warning).toMatch(/^\/keel\/fleet\/g\/rollouts\/1\.1\.0: .*; skipping this rollout record$/);
  });
});
