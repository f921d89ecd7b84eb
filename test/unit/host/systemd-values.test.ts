import dbus from 'dbus-next';
import { describe, expect, test } from 'vitest';
import { KeelError } from '../../../src/errors.js';
import {
  errorKindOf, execCommand, isTransientDbusError, transientProperties, unitFileChangesOf, unitNameFromPath, unitPropertiesOf, unitStatusOf, unwrap, usec,
} from '../../../src/host/systemd-values.js';

const { Variant } = dbus;

describe('unwrap', () => {
  test.each([
    ['a string variant', new Variant('s', 'active'), 'active'],
    ['a small uint64', 42n, 42],
    ['uint64 infinity stays bigint', 18446744073709551615n, 18446744073709551615n],
    ['nested variants in arrays', [new Variant('s', 'a'), new Variant('u', 1)], ['a', 1]],
    ['records of variants', { ActiveState: new Variant('s', 'failed'), NRestarts: new Variant('u', 3) }, { ActiveState: 'failed', NRestarts: 3 }],
    ['a variant of a variant', new Variant('v', new Variant('b', true)), true],
    ['plain values pass', 'x', 'x'],
  ])('%s', (_, value, expected) => {
    expect(unwrap(value)).toEqual(expected);
  });
});

describe('unitNameFromPath', () => {
  test.each([
    ['/org/freedesktop/systemd1/unit/dbus_2eservice', 'dbus.service'],
    ['/org/freedesktop/systemd1/unit/keel_2dlive_2dweb_2eservice', 'keel-live-web.service'],
    ['/org/freedesktop/systemd1/unit/getty_40tty1_2eservice', 'getty@tty1.service'],
    ['/org/freedesktop/systemd1/unit/_2d_2eslice', '-.slice'],
    ['/org/freedesktop/systemd1/job/42', undefined],
    ['/org/freedesktop/systemd1', undefined],
  ])('%s → %s', (objectPath, expected) => {
    expect(unitNameFromPath(objectPath)).toBe(expected);
  });
});

describe('transientProperties', () => {
  test('known names get their signature; milliseconds become microseconds for t', () => {
    const props = transientProperties({
      Description: 'run', RemainAfterExit: false, TimeoutStartUSec: usec(1500), Environment: ['A=1'],
      ExecStart: execCommand(['/bin/sh', '-c', 'true']),
    });
    expect(props.map(([name, v]) => [name, v.signature, v.value])).toEqual([
      ['Description', 's', 'run'],
      ['RemainAfterExit', 'b', false],
      ['TimeoutStartUSec', 't', 1_500_000n],
      ['Environment', 'as', ['A=1']],
      ['ExecStart', 'a(sasb)', [['/bin/sh', ['/bin/sh', '-c', 'true'], false]]],
    ]);
  });

  test('a plain number for a t property becomes a bigint', () => {
    expect(transientProperties({ MemoryMax: 1024 })[0]![1].value).toBe(1024n);
  });

  test('an explicit variant passes through for names without a known signature', () => {
    const v = new Variant('s', 'yes');
    expect(transientProperties({ ProtectSystem: v })[0]).toEqual(['ProtectSystem', v]);
  });

  test('an unknown name without a variant is refused', () => {
    expect(() => transientProperties({ ProtectSystem: 'strict' })).toThrow(KeelError);
    expect(() => transientProperties({ ProtectSystem: 'strict' })).toThrow(/ProtectSystem: no known d-bus signature/);
  });

  test('an empty argv is refused', () => {
    expect(() => execCommand([])).toThrow(/empty argv/);
  });
});

describe('D-Bus error names', () => {
  test.each([
    ['org.freedesktop.systemd1.NoSuchUnit', 'not-found', false],
    ['org.freedesktop.systemd1.UnitMasked', 'conflict', false],
    ['org.freedesktop.systemd1.JobTypeNotApplicable', 'conflict', false],
    ['org.freedesktop.DBus.Error.InvalidArgs', 'invalid-input', false],
    ['org.freedesktop.DBus.Error.ServiceUnknown', 'unavailable', true],
    ['org.freedesktop.DBus.Error.NoReply', 'unavailable', true],
    ['org.freedesktop.DBus.Error.Spawn.ChildExited', 'unavailable', true],
    ['org.example.Whatever', 'io', false],
    [undefined, 'io', false],
  ] as const)('%s → %s', (name, kind, transient) => {
    expect(errorKindOf(name)).toBe(kind);
    expect(isTransientDbusError(name)).toBe(transient);
  });
});

describe('unit properties, rows and file changes', () => {
  test('picks the common properties and keeps every raw one', () => {
    const raw = { LoadState: 'loaded', ActiveState: 'failed', SubState: 'failed', Result: 'exit-code', NRestarts: 2, MainPID: 0, ExecMainStatus: 3, ExecMainCode: 1, Other: 'x' };
    expect(unitPropertiesOf('a.service', raw)).toEqual({
      name: 'a.service', raw, loadState: 'loaded', activeState: 'failed', subState: 'failed', result: 'exit-code', nRestarts: 2, mainPid: 0, execMainStatus: 3, execMainCode: 1,
    });
  });

  test('leaves out what a unit type does not have', () => {
    const raw = { LoadState: 'not-found', ActiveState: 'inactive', SubState: 'dead', NRestarts: 18446744073709551615n };
    expect(unitPropertiesOf('b.target', raw)).toEqual({ name: 'b.target', raw, loadState: 'not-found', activeState: 'inactive', subState: 'dead' });
  });

  test('a ListUnits row', () => {
    expect(unitStatusOf(['a.service', 'A', 'loaded', 'active', 'running', '', '/org/freedesktop/systemd1/unit/a_2eservice', 0, '', '/'])).toEqual({
      name: 'a.service', description: 'A', loadState: 'loaded', activeState: 'active', subState: 'running', jobId: 0,
    });
  });

  test('unit file changes, and none', () => {
    expect(unitFileChangesOf([['symlink', '/etc/systemd/system/multi-user.target.wants/a.service', '/etc/systemd/system/a.service']])).toEqual([
      { type: 'symlink', file: '/etc/systemd/system/multi-user.target.wants/a.service', destination: '/etc/systemd/system/a.service' },
    ]);
    expect(unitFileChangesOf(undefined)).toEqual([]);
  });
});
