import { describe, expect, test } from 'vitest';
import { readFileSync } from 'node:fs';
import * as machine from '../../../src/update/agent-state.js';
import { edges, stateKinds, type AgentState, type StateKind } from '../../../src/update/agent-state.js';
import type { Release } from '../../../src/update/release.js';
import { KeelError } from '../../../src/errors.js';

// Walks every edge of docs/update-states.dot through the transition functions, and checks
// that every other source state is refused.
const release: Release = { version: '2.0.0', channel: 'stable', slot: { path: 'stable/2.0.0/root.img', length: 10, sha256: 'ab' } };
const booted = { slot: 'a' as const, version: '1.0.0' };

const sample: Record<StateKind, AgentState> = {
  start: { kind: 'start' },
  booted: { kind: 'booted', booted, trial: true },
  unhealthy: { kind: 'unhealthy', booted, reboots: 1 },
  'rolled-back': { kind: 'rolled-back', booted, failedVersion: '3.0.0' },
  steady: { kind: 'steady', booted },
  available: { kind: 'available', booted, release, failedAttempts: 0 },
  downloading: { kind: 'downloading', booted, release, failedAttempts: 2 },
  staged: { kind: 'staged', booted, release, postponements: 0 },
  rebooting: { kind: 'rebooting', booted, release },
};

/** Calls an edge function with plausible arguments. */
function take(name: string, state: AgentState): AgentState {
  switch (name) {
    case 'initialize':
      return machine.initialize(state, booted, true);
    case 'detectRollback':
      return machine.detectRollback(state, '3.0.0');
    case 'findNothing':
    case 'abandon':
      return (machine as unknown as Record<string, (s: AgentState, n: number) => AgentState>)[name]!(state, 1000);
    case 'findRelease':
    case 'restoreStaged':
      return (machine as unknown as Record<string, (s: AgentState, r: Release) => AgentState>)[name]!(state, release);
    default:
      return (machine as unknown as Record<string, (s: AgentState) => AgentState>)[name]!(state);
  }
}

function dotEdges(): { from: string; to: string; name: string }[] {
  const text = readFileSync(new URL('../../../docs/update-states.dot', import.meta.url), 'utf8');
  return [...text.matchAll(/^\s*"?([\w-]+)"?\s*->\s*"?([\w-]+)"?\s*\[label="(\w+)"\]/gm)].map((m) => ({ from: m[1]!, to: m[2]!, name: m[3]! }));
}

describe('update agent state machine', () => {
  test('the diagram has exactly the edges of the code', () => {
    const fromCode = edges.flatMap((e) => e.from.map((f) => `${f} -${e.name}-> ${e.to}`)).sort();
    const fromDot = dotEdges().map((e) => `${e.from} -${e.name}-> ${e.to}`).sort();
    expect(fromDot).toEqual(fromCode);
  });

  test('every state is reachable from start', () => {
    const seen = new Set<string>(['start']);
    for (let i = 0; i < stateKinds.length; i++) for (const e of edges) if (e.from.some((f) => seen.has(f))) seen.add(e.to);
    expect([...seen].sort()).toEqual([...stateKinds].sort());
  });

  const walks = edges.flatMap((e) => e.from.map((f) => [e.name, f, e.to] as const));
  test.each(walks)('%s: %s → %s', (name, source, target) => {
    const next = take(name, sample[source]);
    expect(next.kind).toBe(target);
    if (source !== 'start') expect((next as { booted: unknown }).booted).toEqual(booted);
  });

  const refusals = edges.flatMap((e) => stateKinds.filter((k) => !(e.from as readonly string[]).includes(k)).map((k) => [e.name, k] as const));
  test.each(refusals)('%s is refused from %s', (name, source) => {
    expect(() => take(name, sample[source])).toThrow(KeelError);
    expect(() => take(name, sample[source])).toThrow(/is not allowed from state/);
  });

  test('states carry their data across edges', () => {
    let s: AgentState = machine.initialize({ kind: 'start' }, booted, false);
    s = machine.passHealth(s);
    s = machine.findRelease(s, release);
    s = machine.startDownload(s);
    s = machine.failDownload(s);
    expect(s).toEqual({ kind: 'available', booted, release, failedAttempts: 1 });
    s = machine.stage(machine.startDownload(s));
    s = machine.postpone(machine.postpone(s));
    expect(s).toMatchObject({ kind: 'staged', postponements: 2 });
    expect(machine.failReboot(machine.beginReboot(s))).toMatchObject({ kind: 'staged', postponements: 0, release });
  });

  test('failHealth refuses a slot that is not on trial', () => {
    expect(() => machine.failHealth({ kind: 'booted', booted, trial: false })).toThrow(/only for a slot on trial/);
  });
});
