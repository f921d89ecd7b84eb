/**
 * The reconciler's decisions, pure: the specs that should run and the units systemd has
 * → an ordered list of actions. Stops of removed containers come first, then every unit
 * file change, one daemon-reload, images, and last the starts and restarts in dependency
 * order. A spec that failed validation leaves its container exactly as it was.
 */
import type { ContainerSpec } from './spec.js';
import { unitNameOf } from './unit-from-spec.js';

/** A valid spec and the unit text it renders to. */
export interface DesiredContainer {
  spec: ContainerSpec;
  unitText: string;
}

/** What the supervisor sees of one keel unit: its file under the unit directory and systemd's view. */
export interface ObservedUnit {
  name: string;
  /** The unit file's text, undefined when there is no file (systemd may still know the unit). */
  fileText: string | undefined;
  /** systemd's ActiveState (`active`, `inactive`, `failed`, `activating`, ...); undefined when not loaded. */
  activeState: string | undefined;
  /** systemd's Result (`success`, `exit-code`, `start-limit-hit`, ...). */
  result?: string;
  /** systemd's LoadState is `not-found` or it reports NeedDaemonReload: the file is not what systemd runs. */
  stale?: boolean;
  /** Loaded but never run (no InvocationID): its first start was skipped (e.g. no image yet) or lost in a crash. */
  neverStarted?: boolean;
}

export type Action =
  | { kind: 'stop'; name: string; unit: string }
  | { kind: 'write-unit'; name: string; unit: string; text: string }
  | { kind: 'remove-unit'; name: string; unit: string }
  | { kind: 'daemon-reload' }
  | { kind: 'ensure-image'; image: string; names: string[] }
  | { kind: 'start'; name: string; unit: string; reason: 'new' | 'inactive' | 'failed' }
  | { kind: 'restart'; name: string; unit: string; reason: 'changed' };

export interface Plan {
  actions: Action[];
  /** Containers whose unit is already what the spec says and whose state needs nothing. */
  unchanged: string[];
  /** Containers left as they were because their spec file is invalid. */
  kept: string[];
}

export interface ReconcileInput {
  desired: DesiredContainer[];
  /** Names whose spec file exists but is invalid: not desired, not removed. */
  invalid: string[];
  observed: ObservedUnit[];
  /** The supervisor's first pass since it started: `always` brings back manually stopped containers (docker's meaning). */
  firstPass: boolean;
}

const running = new Set(['active', 'activating', 'reloading', 'deactivating']);

/** Should an unchanged unit in this state be started? Returns the reason, or undefined. */
function startReason(spec: ContainerSpec, o: ObservedUnit, firstPass: boolean): 'inactive' | 'failed' | undefined {
  if (o.activeState !== undefined && running.has(o.activeState)) return undefined;
  const failed = o.activeState === 'failed';
  switch (spec.restart) {
    case 'always':
      return failed ? 'failed' : firstPass ? 'inactive' : undefined;
    case 'unless-stopped':
      return failed ? 'failed' : undefined;
    case 'on-failure':
      // start-limit-hit is on-failure:N having given up: respect it until the spec changes.
      return failed && o.result !== 'start-limit-hit' ? 'failed' : undefined;
    case 'no':
      return undefined;
  }
}

/** Orders names so that every container comes after those it names in after/requires (cycles keep input order). */
export function dependencyOrder(names: string[], specs: Map<string, ContainerSpec>): string[] {
  const wanted = new Set(names);
  const out: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (n: string) => {
    if (state.get(n)) return;
    state.set(n, 'visiting');
    const s = specs.get(n);
    for (const d of s ? [...s.after, ...s.requires].sort() : []) if (wanted.has(d)) visit(d);
    state.set(n, 'done');
    out.push(n);
  };
  for (const n of [...names].sort()) visit(n);
  return out;
}

/** Decides what to do. */
export function reconcile(input: ReconcileInput): Plan {
  const observed = new Map(input.observed.map((o) => [o.name, o]));
  const desired = new Map(input.desired.map((d) => [d.spec.name, d]));
  const invalid = new Set(input.invalid);
  const stops: Action[] = [];
  const files: Action[] = [];
  const toStart = new Map<string, Action>();
  const unchanged: string[] = [];
  let reload = false;

  for (const o of [...input.observed].sort((a, b) => a.name.localeCompare(b.name))) {
    if (desired.has(o.name) || invalid.has(o.name)) continue;
    const unit = unitNameOf(o.name);
    if (o.activeState !== undefined && running.has(o.activeState)) stops.push({ kind: 'stop', name: o.name, unit });
    if (o.fileText !== undefined) {
      files.push({ kind: 'remove-unit', name: o.name, unit });
      reload = true;
    }
  }

  for (const d of [...desired.values()].sort((a, b) => a.spec.name.localeCompare(b.spec.name))) {
    const name = d.spec.name;
    const unit = unitNameOf(name);
    const o = observed.get(name);
    if (o?.fileText === undefined) {
      files.push({ kind: 'write-unit', name, unit, text: d.unitText });
      reload = true;
      toStart.set(name, { kind: 'start', name, unit, reason: 'new' });
    } else if (o.fileText !== d.unitText) {
      files.push({ kind: 'write-unit', name, unit, text: d.unitText });
      reload = true;
      toStart.set(name, { kind: 'restart', name, unit, reason: 'changed' });
    } else {
      if (o.stale || o.activeState === undefined) reload = true;
      // A unit file systemd has not loaded was written but never started (e.g. the supervisor died before its reload).
      const reason = o.activeState === undefined || (o.neverStarted && o.activeState === 'inactive') ? 'new' : startReason(d.spec, o, input.firstPass);
      if (reason) toStart.set(name, { kind: 'start', name, unit, reason });
      else unchanged.push(name);
    }
  }

  const specs = new Map([...desired].map(([n, d]) => [n, d.spec]));
  const ordered = dependencyOrder([...toStart.keys()], specs).map((n) => toStart.get(n)!);
  const images = new Map<string, string[]>();
  for (const a of ordered) {
    const image = desired.get(a.kind === 'start' || a.kind === 'restart' ? a.name : '')?.spec.image;
    if (image) images.set(image, [...(images.get(image) ?? []), (a as { name: string }).name]);
  }
  const actions: Action[] = [
    ...stops,
    ...files,
    ...(reload ? [{ kind: 'daemon-reload' } as const] : []),
    ...[...images].map(([image, names]) => ({ kind: 'ensure-image', image, names }) as const),
    ...ordered,
  ];
  return { actions, unchanged: unchanged.sort(), kept: [...invalid].filter((n) => !desired.has(n)).sort() };
}
