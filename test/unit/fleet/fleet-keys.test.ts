// Fleet keys: built from checked names, and read back only when they are exactly one of the three kinds.
import { describe, expect, test } from 'vitest';
import { checkMachineId, checkVersion, lostKey, nodeKey, parseFleetKey, rolloutKey, rolloutMarkKey } from '../../../src/fleet/fleet-keys.js';

describe('fleet keys', () => {
  test('the three kinds of key', () => {
    expect(nodeKey('web', '4c3f9d0e8b1a4e6f')).toBe('/keel/fleet/web/nodes/4c3f9d0e8b1a4e6f');
    expect(lostKey('web', 'n1')).toBe('/keel/fleet/web/lost/n1');
    expect(rolloutKey('web', '2026.12.1+b7')).toBe('/keel/fleet/web/rollouts/2026.12.1+b7');
    expect(rolloutMarkKey('web', '2.0', 'succeeded', 'n1')).toBe('/keel/fleet/web/rollouts/2.0/succeeded/n1');
  });

  test.each([
    ['a group with a slash', () => nodeKey('a/b', 'n1'), /group: expected letters/],
    ['a machine id with a slash', () => nodeKey('g', 'n/1'), /machine id: expected 1 to 253/],
    ['a path step as machine id', () => checkMachineId('..'), /path step/],
    ['an empty machine id', () => checkMachineId(''), /found ""/],
    ['a version with a space', () => checkVersion('1.0 beta'), /version: expected/],
    ['a long version', () => checkVersion('1'.repeat(129)), /129 characters/],
  ])('refuses %s', (_name, fn, message) => {
    expect(fn).toThrow(message);
  });

  test.each([
    ['/keel/fleet/g/nodes/n1', { kind: 'node', machineId: 'n1' }],
    ['/keel/fleet/g/lost/n1', { kind: 'lost', machineId: 'n1' }],
    ['/keel/fleet/g/attention/n1', { kind: 'attention', machineId: 'n1' }],
    ['/keel/fleet/g/attention/..', undefined],
    ['/keel/fleet/g/rollouts/1.2.3', { kind: 'rollout', version: '1.2.3' }],
    ['/keel/fleet/g/rollouts/1.2.3/started/n1', { kind: 'mark', version: '1.2.3', mark: 'started', machineId: 'n1' }],
    ['/keel/fleet/g/rollouts/1.2.3/succeeded/n1', { kind: 'mark', version: '1.2.3', mark: 'succeeded', machineId: 'n1' }],
    ['/keel/fleet/g/rollouts/1.2.3/failed/n1', undefined],
    ['/keel/fleet/g/rollouts/1.2.3/started/n1/x', undefined],
    ['/keel/fleet/g/rollouts/1.2.3/started/..', undefined],
    ['/keel/fleet/g/nodes/n1/extra', undefined],
    ['/keel/fleet/g/nodes/', undefined],
    ['/keel/fleet/g/nodes/..', undefined],
    ['/keel/fleet/g/other/n1', undefined],
    ['/keel/fleet/gg/nodes/n1', undefined],
    ['/keel/fleet/g/nodes/bad id', undefined],
  ])('parseFleetKey(%s)', (key, want) => {
    expect(parseFleetKey('g', key)).toEqual(want);
  });
});
