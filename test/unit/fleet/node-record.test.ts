// Node records: written with a schema, read back equal; malformed and foreign ones are
// warnings naming the key, never exceptions.
import { describe, expect, test } from 'vitest';
import { formatNodeRecord, nodeRecord, readNodeRecord, type NodeFacts } from '../../../src/fleet/node-record.js';

const key = '/keel/fleet/g/nodes/n1';
const facts: NodeFacts = {
  machineId: 'n1',
  hostname: 'web-1',
  version: '1.0.0',
  slot: 'a',
  state: 'staged',
  stateSince: '2026-12-03T10:00:00.000Z',
  staged: '1.1.0',
  lastCheck: '2026-12-03T10:00:00.000Z',
  lastError: { message: 'download: connection reset', at: '2026-12-03T09:00:00.000Z' },
  health: { verdict: 'passed', at: '2026-12-03T08:00:00.000Z', detail: 'all units active' },
  rebootSlot: { since: '2026-12-03T10:01:00.000Z' },
  updatedAt: '2026-12-03T10:01:00.000Z',
};
const good = () => JSON.parse(formatNodeRecord(nodeRecord(facts))) as Record<string, unknown>;
const text = (over: Record<string, unknown>) => JSON.stringify({ ...good(), ...over });

describe('node record', () => {
  test('round trip, schema included; unknown fields are ignored', () => {
    const r = readNodeRecord(key, JSON.stringify({ ...good(), futureField: 1 }), 'n1');
    expect(r).toEqual({ record: { schema: 'keel.fleet.node/v1', ...facts } });
  });

  test('the minimal record', () => {
    const min = { machineId: 'n1', hostname: 'h', version: '1', slot: 'b', state: 'steady', stateSince: facts.stateSince, updatedAt: facts.updatedAt };
    expect(readNodeRecord(key, formatNodeRecord(nodeRecord(min)))).toEqual({ record: { schema: 'keel.fleet.node/v1', ...min } });
  });

  test('a long error is cut by the writer so the reader keeps the node', () => {
    const r = nodeRecord({ ...facts, lastError: { message: 'x'.repeat(10_000), at: facts.stateSince } });
    expect(r.lastError!.message).toHaveLength(2048);
    expect('record' in readNodeRecord(key, formatNodeRecord(r))).toBe(true);
  });

  test.each([
    ['not JSON', '{"schema":', 'expected JSON, found unparsable text'],
    ['an array', '[1]', 'expected a JSON object, found an array'],
    ['null', 'null', 'expected a JSON object, found object'],
    ['a foreign schema', text({ schema: 'acme.node/v9' }), 'schema: expected "keel.fleet.node/v1", found "acme.node/v9" (a foreign or newer record)'],
    ['no schema', JSON.stringify({ hostname: 'x' }), 'schema: expected "keel.fleet.node/v1", found nothing'],
    ['another node id', text({ machineId: 'n2' }), 'machineId: expected "n1" (the key\'s), found "n2"'],
    ['a bad machine id', text({ machineId: 'a/b' }), 'machineId: expected 1 to 253'],
    ['a number for hostname', text({ hostname: 7 }), 'hostname: expected a non-empty string, found 7'],
    ['no version', text({ version: undefined }), 'version: expected a non-empty string, found nothing'],
    ['a bad time', text({ stateSince: 'yesterday' }), 'stateSince: expected an RFC 3339 time, found "yesterday"'],
    ['a bad verdict', text({ health: { verdict: 'meh', at: facts.stateSince } }), 'health.verdict: expected one of passed, failed, pending, found "meh"'],
    ['an error without a time', text({ lastError: { message: 'x' } }), 'lastError.at: expected a non-empty string'],
    ['a reboot slot as a string', text({ rebootSlot: 'yes' }), 'rebootSlot: expected an object, found "yes"'],
    ['a huge hostname', text({ hostname: 'h'.repeat(3000) }), 'hostname: expected at most 2048 characters, found 3000'],
  ])('skips %s with a warning naming the key', (_name, value, message) => {
    const r = readNodeRecord(key, value, 'n1');
    expect(r).toEqual({ warning: expect.stringContaining(message) });
    expect((r as { warning: string }).warning).toMatch(/^\/keel\/fleet\/g\/nodes\/n1: .*; skipping this node record$/);
  });
});
