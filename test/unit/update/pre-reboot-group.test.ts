// The pre-reboot check "no node of group G is failed or rebooting" with a double of the fleet
// store's read: which records and holders refuse, this node left out, bad records warned about.
import { describe, expect, test } from 'vitest';
import { groupClearProblem, judgeGroup, type GroupNodes, type GroupProbe } from '../../../src/update/pre-reboot-group.js';
import { formatNodeRecord, nodeRecord, type NodeFacts } from '../../../src/fleet/node-record.js';
import { PreRebootStage } from '../../../src/update/pre-reboot.js';

const at = '2026-12-03T10:00:00.000Z';
const node = (id: string, more: Partial<NodeFacts> = {}): [string, string] => [
  `/keel/fleet/web/attention/${id}`,
  formatNodeRecord(nodeRecord({ machineId: id, hostname: `host-${id}`, version: '1.0.0', slot: 'a', state: 'steady', stateSince: at, updatedAt: at, ...more })),
];
const sem = (holders: string[], slots = 2) => JSON.stringify({ semaphore: slots - holders.length, max: slots, total_slots: slots, holders });
const read = (entries: [string, string][], semaphore?: string): GroupNodes => ({ entries: new Map(entries), ...(semaphore !== undefined && { semaphore }) });

describe('group clear', () => {
  test.each<[string, [string, string][], string | undefined, string | undefined]>([
    ['all steady, nobody holds a slot', [node('a'), node('b'), node('self')], sem([]), undefined],
    ['no semaphore yet', [node('a')], undefined, undefined],
    ['a node rolled back', [node('a', { state: 'rolled-back' })], undefined, 'a (host-a) is rolled-back'],
    ['a node unhealthy', [node('a', { state: 'unhealthy' })], undefined, 'a (host-a) is unhealthy'],
    ['a node failed its gate while steady', [node('a', { health: { verdict: 'failed', at } })], undefined, 'a (host-a) failed its health gate'],
    ['a node rebooting', [node('a', { state: 'rebooting', rebootSlot: { since: at } })], sem(['a']), 'a (host-a) is rebooting'],
    ['a booted node still holding its slot', [node('a', { state: 'booted', rebootSlot: { since: at } })], sem(['a']), 'a (host-a) holds a reboot slot'],
    ['a holder with no live record (lost, or another keel)', [node('b')], sem(['gone']), 'gone holds a reboot slot'],
    ['several, in machine id order, one clause each', [node('c', { state: 'unhealthy' }), node('b', { state: 'rebooting' })], sem(['b', 'z']), 'b (host-b) is rebooting, c (host-c) is unhealthy, z holds a reboot slot'],
  ])('%s', (_why, entries, semaphore, reason) => {
    expect(judgeGroup('web', 'self', read(entries, semaphore))).toBe(reason === undefined ? undefined : `pre-reboot group web is not clear: ${reason}`);
  });

  test('this node never blocks itself: its own failure, reboot or slot is left out', () => {
    expect(judgeGroup('web', 'self', read([node('self', { state: 'rebooting', rebootSlot: { since: at } })], sem(['self'])))).toBeUndefined();
  });

  test('more than five clauses are cut with a count', () => {
    const entries = ['a', 'b', 'c', 'd', 'e', 'f', 'g'].map((id) => node(id, { state: 'unhealthy' }));
    expect(judgeGroup('web', 'self', read(entries))).toMatch(/: a \(host-a\) is unhealthy, .* e \(host-e\) is unhealthy, 2 more$/);
  });

  test('a malformed or foreign record is a warning, not a reason; a record under another id is skipped', () => {
    const warnings: string[] = [];
    const foreign = ['/keel/fleet/web/attention/x', '{"schema":"other/v9"}'] as [string, string];
    const misfiled = ['/keel/fleet/web/attention/y', node('z', { state: 'unhealthy' })[1]] as [string, string];
    expect(judgeGroup('web', 'self', read([foreign, misfiled, ['/keel/fleet/web/attention/q', 'not json'], node('a')]), warnings)).toBeUndefined();
    expect(warnings).toHaveLength(3);
    expect(warnings[0]).toMatch(/^\/keel\/fleet\/web\/attention\/x: .*schema/);
  });

  test('a semaphore that cannot be read refuses: who holds slots is unknown', () => {
    expect(judgeGroup('web', 'self', read([node('a')], '{"holders": 3}'))).toMatch(/^pre-reboot group web: cannot tell who holds its reboot slots \(.*total_slots/);
  });

  test('etcd not answering is the reason; warnings go to the probe', async () => {
    const down: GroupProbe = { machineId: 'self', readAttention: async () => Promise.reject(new Error('etcd did not answer reading /keel/fleet/web/attention/: 14 UNAVAILABLE')) };
    expect(await groupClearProblem('web', down)).toBe('pre-reboot group web: cannot read its nodes (etcd did not answer reading /keel/fleet/web/attention/: 14 UNAVAILABLE)');
    const warned: string[] = [];
    const groups: string[] = [];
    const up: GroupProbe = { machineId: 'self', readAttention: async (g) => (groups.push(g), read([['/keel/fleet/web/attention/q', 'not json']])), warn: (m) => warned.push(m) };
    expect(await groupClearProblem('web', up)).toBeUndefined();
    expect([groups, warned.length]).toEqual([['web'], 1]);
  });

  test('the stage reads the group named by the check, not the node own group, after the other checks pass', async () => {
    const groups: string[] = [];
    const group: GroupProbe = { machineId: 'self', readAttention: async (g) => (groups.push(g), read([node('a', { state: 'rolled-back' })])) };
    const run = async () => ({ exitCode: 1, stdout: 'not drained', stderr: '', timedOut: false });
    expect(await new PreRebootStage('/', { command: 'drained', units: [], groupClear: 'web' }, { run, group }).run()).toMatch(/^pre-reboot command "drained" exited 1/);
    expect(groups).toEqual([]);
    expect(await new PreRebootStage('/', { units: [], groupClear: 'web' }, { group }).run()).toBe('pre-reboot group web is not clear: a (host-a) is rolled-back');
    expect(groups).toEqual(['web']);
  });

  test('without etcd the group check cannot pass, and says what it needs', async () => {
    expect(await new PreRebootStage('/', { units: [], groupClear: 'web' }).run()).toMatch(/^pre-reboot group web: no etcd to read its nodes from \(PRE_REBOOT_GROUP_CLEAR needs etcd endpoints in \/etc\/keel\/lock\.conf\)$/);
  });
});
