/**
 * Pure conversions between systemd's D-Bus values and plain TypeScript ones: variants
 * unwrapped, unit object paths decoded, transient-unit properties typed, error names
 * mapped to keel's error kinds, unit properties and rows picked out. Kept apart from the
 * connection so they are unit-tested.
 */
import dbus from 'dbus-next';
import { KeelError, type ErrorKind } from '../errors.js';
import type { UnitFileChange, UnitProperties, UnitStatus } from './systemd-types.js';

const { Variant } = dbus;
type DbusVariant = InstanceType<typeof Variant>;

/** Where systemd exports units: `/org/freedesktop/systemd1/unit/<escaped name>`. */
export const unitPathPrefix = '/org/freedesktop/systemd1/unit/';

/**
 * Unwraps dbus-next variants recursively; 64-bit integers become numbers when they fit,
 * and stay bigint otherwise (systemd's "infinity" is 2^64-1).
 */
export function unwrap(value: unknown): unknown {
  if (value instanceof Variant) return unwrap((value as DbusVariant).value);
  if (typeof value === 'bigint') return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= -BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
  if (Array.isArray(value)) return value.map(unwrap);
  if (value instanceof Uint8Array || Buffer.isBuffer(value)) return value;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unwrap(v)]));
  }
  return value;
}

/** `/org/freedesktop/systemd1/unit/foo_2dbar_2eservice` → `foo-bar.service`. */
export function unitNameFromPath(objectPath: string): string | undefined {
  if (!objectPath.startsWith(unitPathPrefix)) return undefined;
  return objectPath
    .slice(unitPathPrefix.length)
    .replace(/_([0-9a-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** The D-Bus signature of the transient-unit properties keel and its users set. */
export const propertySignatures: Readonly<Record<string, string>> = {
  Description: 's',
  Type: 's',
  RemainAfterExit: 'b',
  ExecStart: 'a(sasb)',
  ExecStartPre: 'a(sasb)',
  ExecStop: 'a(sasb)',
  ExecStopPost: 'a(sasb)',
  Environment: 'as',
  WorkingDirectory: 's',
  User: 's',
  Group: 's',
  StandardInput: 's',
  StandardOutput: 's',
  StandardError: 's',
  TimeoutStartUSec: 't',
  TimeoutStopUSec: 't',
  RuntimeMaxUSec: 't',
  Restart: 's',
  RestartUSec: 't',
  KillMode: 's',
  KillSignal: 'i',
  NotifyAccess: 's',
  CollectMode: 's',
  Slice: 's',
  Delegate: 'b',
  AddRef: 'b',
  After: 'as',
  Before: 'as',
  Wants: 'as',
  Requires: 'as',
  MemoryMax: 't',
  CPUWeight: 't',
  TasksMax: 't',
};

/** A transient unit property: a plain value for a name in `propertySignatures`, or a variant. */
export type PropertyValue = string | number | bigint | boolean | string[] | unknown[] | DbusVariant;

/** Builds the `a(sv)` array StartTransientUnit takes; an unknown name without a variant is refused. */
export function transientProperties(properties: Record<string, PropertyValue>): Array<[string, DbusVariant]> {
  return Object.entries(properties).map(([name, value]) => {
    if (value instanceof Variant) return [name, value as DbusVariant];
    const signature = propertySignatures[name];
    if (!signature) {
      throw new KeelError(
        'invalid-input',
        `transient unit property ${name}: no known d-bus signature; pass it as a dbus-next Variant`,
      );
    }
    const plain = signature === 't' && typeof value === 'number' ? BigInt(Math.round(value)) : value;
    return [name, new Variant(signature, plain)];
  });
}

/** An `ExecStart`-style value for one command line: `[[path, argv, ignoreFailure]]`. */
export function execCommand(argv: string[], ignoreFailure = false): Array<[string, string[], boolean]> {
  const [path] = argv;
  if (!path) throw new KeelError('invalid-input', 'transient command: empty argv; expected a program to run');
  return [[path, argv, ignoreFailure]];
}

/** Milliseconds as systemd's microseconds. */
export function usec(ms: number): bigint {
  return BigInt(Math.round(ms)) * 1000n;
}

const errorKinds: Record<string, ErrorKind> = {
  'org.freedesktop.systemd1.NoSuchUnit': 'not-found',
  'org.freedesktop.systemd1.NoSuchJob': 'not-found',
  'org.freedesktop.systemd1.LoadFailed': 'not-found',
  'org.freedesktop.systemd1.UnitMasked': 'conflict',
  'org.freedesktop.systemd1.UnitExists': 'conflict',
  'org.freedesktop.systemd1.TransactionIsDestructive': 'conflict',
  'org.freedesktop.systemd1.TransactionJobsConflicting': 'conflict',
  'org.freedesktop.systemd1.JobTypeNotApplicable': 'conflict',
  'org.freedesktop.systemd1.OnlyByDependency': 'conflict',
  'org.freedesktop.DBus.Error.InvalidArgs': 'invalid-input',
  'org.freedesktop.DBus.Error.FileNotFound': 'not-found',
  'org.freedesktop.DBus.Error.AccessDenied': 'io',
};

/** Error names that mean systemd is not on the bus right now (re-executing, restarting). */
export function isTransientDbusError(name: string | undefined): boolean {
  if (!name) return false;
  return (
    name === 'org.freedesktop.DBus.Error.ServiceUnknown' ||
    name === 'org.freedesktop.DBus.Error.NameHasNoOwner' ||
    name === 'org.freedesktop.DBus.Error.NoReply' ||
    name === 'org.freedesktop.DBus.Error.Disconnected' ||
    name === 'org.freedesktop.DBus.Error.TimedOut' ||
    name.startsWith('org.freedesktop.DBus.Error.Spawn.')
  );
}

/** The keel error kind for a D-Bus error name from systemd. */
export function errorKindOf(name: string | undefined): ErrorKind {
  if (isTransientDbusError(name)) return 'unavailable';
  return (name && errorKinds[name]) || 'io';
}

/** The unit types whose own interface (`org.freedesktop.systemd1.Service`…) holds more properties. */
export const typesWithOwnInterface = ['service', 'socket', 'mount', 'swap', 'scope'];

/** The properties callers read most, picked from a unit's raw (unwrapped) properties. */
export function unitPropertiesOf(name: string, raw: Record<string, unknown>): UnitProperties {
  const props: UnitProperties = { name, raw, loadState: String(raw.LoadState), activeState: String(raw.ActiveState), subState: String(raw.SubState) };
  if (typeof raw.Result === 'string') props.result = raw.Result;
  for (const [key, prop] of [['nRestarts', 'NRestarts'], ['mainPid', 'MainPID'], ['execMainStatus', 'ExecMainStatus'], ['execMainCode', 'ExecMainCode']] as const) {
    if (typeof raw[prop] === 'number') props[key] = raw[prop] as number;
  }
  return props;
}

/** One row of ListUnits (`(ssssssouso)`) as a UnitStatus. */
export function unitStatusOf(row: unknown[]): UnitStatus {
  return { name: String(row[0]), description: String(row[1]), loadState: String(row[2]), activeState: String(row[3]), subState: String(row[4]), jobId: Number(row[7]) };
}

/** The `a(sss)` changes EnableUnitFiles and friends return. */
export function unitFileChangesOf(value: unknown): UnitFileChange[] {
  return ((value ?? []) as unknown[][]).map(([type, file, dest]) => ({ type: String(type), file: String(file), destination: String(dest) }));
}
