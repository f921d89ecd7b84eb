/**
 * One reconciliation, start to end: read the specs, render them, observe the units on
 * disk and in systemd, decide (reconciler.ts), act (plan-executor.ts). `keel containers
 * apply` runs it once; the supervisor runs it whenever specs change or systemd restarts.
 */
import { formatProblem, type Problem } from '../problem.js';
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
  /** Every spec problem, formatted `FILE:LINE:COL: severity: PATH: message`. */
  problems: string[];
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
function dependencyProblems(specs: SpecFile[]): string[] {
  const names = new Set(specs.map((s) => s.name));
  const out: string[] = [];
  for (const s of specs) {
    for (const d of [...(s.spec?.after ?? []), ...(s.spec?.requires ?? [])])
      if (!names.has(d)) out.push(`${s.path}:0:0: warning: ${s.spec?.requires.includes(d) ? 'requires' : 'after'}: no spec for container ${JSON.stringify(d)}; ${s.spec?.requires.includes(d) ? 'its start will fail' : 'ordering on it is ignored'}`);
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
  const problems = [...specs.flatMap((s) => s.problems.map((p: Problem) => formatProblem(s.path, p))), ...dependencyProblems(specs)];
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
