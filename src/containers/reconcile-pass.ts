/**
 * One reconciliation, start to end: read the specs, render them, observe the units on
 * disk and in systemd, decide (reconciler.ts), act (plan-executor.ts). `keel containers
 * apply` runs it once; the supervisor runs it whenever specs change or systemd restarts.
 */
import type { Problem } from '../problem.js';
import type { ActionOutcome, ImageSource } from './plan-executor.js';
import { executePlan } from './plan-executor.js';
import { reconcile, type DesiredContainer, type ObservedUnit, type Plan } from './reconciler.js';
import { readSpecDirectory, type SpecFile } from './spec-files.js';
import type { SystemdBus } from '../host/systemd-bus.js';
import { unitControlOf, unitStateOf } from './systemd-units.js';
import { UnitDirectory } from './unit-directory.js';
import { unitFromSpec, unitNameOf, unitPrefix, type RenderOptions } from './unit-from-spec.js';

export interface PassResult {
  specs: SpecFile[];
  plan: Plan;
  outcomes: ActionOutcome[];
  /** Every spec problem, as data; the edge that prints them formats them (formatProblem). */
  problems: SpecProblem[];
}

/** A spec problem and the file it was found in. */
export interface SpecProblem extends Problem {
  file: string;
}

export interface PassContext {
  root: string;
  systemd: SystemdBus;
  images: ImageSource;
  render: RenderOptions;
  firstPass: boolean;
  /** Decide only: print the plan, change nothing. */
  dryRun?: boolean;
}

/** Cross-spec checks the single-file schema cannot make: dependencies on containers with no spec. */
function dependencyProblems(specs: SpecFile[]): SpecProblem[] {
  const names = new Set(specs.map((s) => s.name));
  const out: SpecProblem[] = [];
  for (const s of specs) {
    for (const d of [...(s.spec?.after ?? []), ...(s.spec?.requires ?? [])]) {
      if (names.has(d)) continue;
      const requires = s.spec?.requires.includes(d) === true;
      const consequence = requires ? 'its start will fail' : 'ordering on it is ignored';
      out.push({ file: s.path, severity: 'warning', path: requires ? 'requires' : 'after', line: 0, column: 0, message: `no spec for container ${JSON.stringify(d)}; ${consequence}` });
    }
  }
  return out;
}

/** What systemd and the unit directory say about keel's units. */
export async function observeUnits(root: string, systemd: SystemdBus): Promise<ObservedUnit[]> {
  const files = await new UnitDirectory(root).read();
  const loaded = await systemd.listUnits([`${unitPrefix}*.service`]);
  const names = new Set([...files.keys(), ...loaded.filter((u) => u.loadState !== 'not-found').map((u) => u.name.slice(unitPrefix.length, -'.service'.length))]);
  return Promise.all(
    [...names].sort().map(async (name) => {
      const s = await unitStateOf(systemd, unitNameOf(name));
      const known = s.loadState !== 'not-found' && s.loadState !== '';
      return { name, fileText: files.get(name), activeState: known ? s.activeState : undefined, result: s.result, stale: s.needDaemonReload, neverStarted: /^0*$/.test(s.invocationId) };
    }),
  );
}

/** Reads, decides and (unless dry-run) acts. */
export async function reconcilePass(ctx: PassContext): Promise<PassResult> {
  const specs = await readSpecDirectory(ctx.root);
  const problems = [...specs.flatMap((s) => s.problems.map((p): SpecProblem => ({ file: s.path, ...p }))), ...dependencyProblems(specs)];
  const desired: DesiredContainer[] = specs.filter((s) => s.spec).map((s) => ({ spec: s.spec!, unitText: unitFromSpec(s.spec!, ctx.render) }));
  const invalid = specs.filter((s) => !s.spec).map((s) => s.name);
  const observed = await observeUnits(ctx.root, ctx.systemd);
  const plan = reconcile({ desired, invalid, observed, firstPass: ctx.firstPass });
  const outcomes = ctx.dryRun ? [] : await executePlan(plan, { files: new UnitDirectory(ctx.root), systemd: unitControlOf(ctx.systemd), images: ctx.images });
  return { specs, plan, outcomes, problems };
}

/** One line per action for logs and `apply`'s text output. */
export function describeAction(a: Plan['actions'][number]): string {
  switch (a.kind) {
    case 'daemon-reload':
      return 'daemon-reload';
    case 'ensure-image':
      return `ensure image ${a.image} (for ${a.names.join(', ')})`;
    case 'start':
      return `start ${a.unit} (${a.reason})`;
    case 'restart':
      return `restart ${a.unit} (${a.reason})`;
    default:
      return `${a.kind} ${a.unit}`;
  }
}
