// The brake's policy: max_failures as a count or a percentage of the group, health_deadline.
import { describe, expect, test } from 'vitest';
import { defaultRolloutPolicy, failureLimit, healthOverdue, parseMaxFailures, parseRolloutPolicy } from '../../../src/fleet/rollout-policy.js';

describe('rollout policy', () => {
  test.each([
    ['1', { kind: 'count', count: 1 }],
    [' 25 ', { kind: 'count', count: 25 }],
    ['5%', { kind: 'percent', percent: 5 }],
    ['0.5 %', { kind: 'percent', percent: 0.5 }],
    ['100%', { kind: 'percent', percent: 100 }],
  ])('parseMaxFailures(%j)', (text, want) => {
    expect(parseMaxFailures(text)).toEqual(want);
  });

  test.each(['0', '0%', '101%', '-1', '1e3', '5 percent', '', '%', '0x10', '1.5'])('refuses max_failures %j', (text) => {
    expect(() => parseMaxFailures(text)).toThrow(/max_failures: expected a number of failed nodes/);
  });

  test.each([
    [{ kind: 'count', count: 3 } as const, 10, 3],
    [{ kind: 'count', count: 3 } as const, 0, 3],
    [{ kind: 'percent', percent: 1 } as const, 10, 1],
    [{ kind: 'percent', percent: 1 } as const, 10_000, 100],
    [{ kind: 'percent', percent: 1 } as const, 10_050, 101],
    [{ kind: 'percent', percent: 10 } as const, 30, 3],
    [{ kind: 'percent', percent: 50 } as const, 3, 2],
    [{ kind: 'percent', percent: 100 } as const, 0, 1],
  ])('failureLimit(%j, %i) = %i', (m, size, want) => {
    expect(failureLimit(m, size)).toBe(want);
  });

  test('policy from text, defaults kept, bad deadline refused', () => {
    expect(parseRolloutPolicy({})).toEqual(defaultRolloutPolicy);
    expect(parseRolloutPolicy({ maxFailures: '2%', healthDeadline: '90s' })).toEqual({ maxFailures: { kind: 'percent', percent: 2 }, healthDeadlineMs: 90_000 });
    expect(() => parseRolloutPolicy({ healthDeadline: '0s' })).toThrow(/health_deadline: expected a duration above zero/);
    expect(() => parseRolloutPolicy({ healthDeadline: 'soon' })).toThrow(/health_deadline: expected a duration/);
  });

  test.each([
    [0, 59_999, false],
    [0, 60_000, true],
  ])('healthOverdue(reboot %i, now %i)', (rebooted, now, want) => {
    expect(healthOverdue({ ...defaultRolloutPolicy, healthDeadlineMs: 60_000 }, rebooted, now)).toBe(want);
  });
});
