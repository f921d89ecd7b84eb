// The reconciler's decisions, table-driven, and the executor's calls against a recording fake.
import { describe, expect, test } from 'vitest';
import { parseSpec } from '../../../src/containers/spec-schema.js';
import { unitFromSpec } from '../../../src/containers/unit-from-spec.js';
import { dependencyOrder, reconcile, type DesiredContainer, type ObservedUnit } from '../../../src/containers/reconciler.js';
import { executePlan, type ImageSource, type UnitControl, type UnitFiles } from '../../../src/containers/plan-executor.js';

function desired(yaml: string): DesiredContainer {
  const { spec, problems } = parseSpec(yaml);
  if (!spec) throw new Error(JSON.stringify(problems));
  return { spec, unitText: unitFromSpec(spec) };
}
const a = desired('name: a\nimage: img\nrestart: always\n');
const b = desired('name: b\nimage: img\nrequires: [a]\n');
const c = desired('name: c\nimage: other\nafter: [b]\nrestart: unless-stopped\n');
const once = desired('name: once\nimage: img\nrestart: "no"\n');
const flaky = desired('name: flaky\nimage: img\nrestart: on-failure:2\n');
const changedA = desired('name: a\nimage: img\nrestart: always\nargs: [x]\n');
const on = (d: DesiredContainer, activeState?: string, extra: Partial<ObservedUnit> = {}): ObservedUnit => ({ name: d.spec.name, fileText: d.unitText, activeState, ...extra });

const summary = (actions: ReturnType<typeof reconcile>['actions']) =>
  actions.map((x) => (x.kind === 'daemon-reload' ? 'reload' : x.kind === 'ensure-image' ? `image ${x.image}` : `${x.kind} ${x.name}${'reason' in x ? ` (${x.reason})` : ''}`));

describe('reconcile', () => {
  test.each<[string, DesiredContainer[], string[], ObservedUnit[], boolean, string[]]>([
    ['nothing to do', [], [], [], false, []],
    ['new containers: write, one reload, images, starts in dependency order', [c, b, a], [], [], true,
      ['write-unit a', 'write-unit b', 'write-unit c', 'reload', 'image img', 'image other', 'start a (new)', 'start b (new)', 'start c (new)']],
    ['all running and unchanged', [a, b], [], [on(a, 'active'), on(b, 'active')], false, []],
    ['spec changed: rewrite and restart', [changedA, b], [], [on(a, 'active'), on(b, 'active')], false, ['write-unit a', 'reload', 'image img', 'restart a (changed)']],
    ['spec removed: stop, remove the file, reload', [a], [], [on(a, 'active'), on(b, 'active')], false, ['stop b', 'remove-unit b', 'reload']],
    ['removed and already stopped: no stop', [], [], [on(a, 'inactive')], false, ['remove-unit a', 'reload']],
    ['loaded without a file (deleted by hand): stop only', [], [], [{ name: 'a', fileText: undefined, activeState: 'active' }], false, ['stop a']],
    ['invalid spec keeps its unit as it was', [], ['a'], [on(a, 'active')], false, []],
    ['invalid spec that never had a unit: nothing', [], ['z'], [], false, []],
    ['always: a failed unit is started', [a], [], [on(a, 'failed')], false, ['image img', 'start a (failed)']],
    ['always: manually stopped stays stopped while the supervisor runs', [a], [], [on(a, 'inactive')], false, []],
    ['always: manually stopped comes back when the supervisor starts', [a], [], [on(a, 'inactive')], true, ['image img', 'start a (inactive)']],
    ['unless-stopped: manually stopped stays stopped, even on a first pass', [c], [], [on(c, 'inactive')], true, []],
    ['no: an exited container is left alone', [once], [], [on(once, 'inactive')], true, []],
    ['on-failure:N: start-limit-hit is respected', [flaky], [], [on(flaky, 'failed', { result: 'start-limit-hit' })], true, []],
    ['on-failure: a failed unit is started', [flaky], [], [on(flaky, 'failed', { result: 'exit-code' })], false, ['image img', 'start flaky (failed)']],
    ['file written but never loaded: reload and start', [a], [], [on(a, undefined)], false, ['reload', 'image img', 'start a (new)']],
    ['loaded but never started (its image was missing): started, whatever the policy', [once], [], [on(once, 'inactive', { neverStarted: true })], false, ['image img', 'start once (new)']],
    ['stale unit (NeedDaemonReload): reload only', [a], [], [on(a, 'active', { stale: true })], false, ['reload']],
    ['activating (auto-restart) is left to systemd and the backoff', [a], [], [on(a, 'activating')], true, []],
  ])('%s', (_title, want, invalid, observed, firstPass, expected) => {
    expect(summary(reconcile({ desired: want, invalid, observed, firstPass }).actions)).toEqual(expected);
  });

  test('reports unchanged and kept containers', () => {
    const plan = reconcile({ desired: [a], invalid: ['b'], observed: [on(a, 'active'), on(b, 'active')], firstPass: false });
    expect(plan.unchanged).toEqual(['a']);
    expect(plan.kept).toEqual(['b']);
  });

  test('dependency order puts requirements first and survives cycles', () => {
    const specs = new Map([a, b, c].map((d) => [d.spec.name, d.spec]));
    expect(dependencyOrder(['c', 'b', 'a'], specs)).toEqual(['a', 'b', 'c']);
    const x = desired('name: x\nimage: i\nafter: [y]\n').spec;
    const y = desired('name: y\nimage: i\nafter: [x]\n').spec;
    expect(dependencyOrder(['x', 'y'], new Map([['x', x], ['y', y]])).sort()).toEqual(['x', 'y']);
  });
});

/** A recording fake of all three edges; `failing` makes chosen calls fail. */
function recorder(failing: Record<string, string> = {}) {
  const calls: string[] = [];
  const call = async (name: string, result = 'done') => {
    calls.push(name);
    await Promise.resolve();
    if (failing[name]) throw new Error(failing[name]);
    return result;
  };
  const files: UnitFiles = { write: async (u) => void (await call(`write ${u}`)), remove: async (u) => void (await call(`remove ${u}`)) };
  const systemd: UnitControl = {
    daemonReload: async () => void (await call('daemon-reload')),
    start: (u) => call(`start ${u}`),
    restart: (u) => call(`restart ${u}`),
    stop: (u) => call(`stop ${u}`),
    resetFailed: async (u) => void (await call(`reset-failed ${u}`)),
  };
  const images: ImageSource = { ensure: async (i) => (await call(`image ${i}`), 'loaded') };
  return { calls, edges: { files, systemd, images } };
}

describe('executePlan', () => {
  test('performs actions in plan order with one daemon-reload', async () => {
    const plan = reconcile({ desired: [changedA, b], invalid: [], observed: [on(a, 'active'), on(c, 'active')], firstPass: false });
    const { calls, edges } = recorder();
    const outcomes = await executePlan(plan, edges);
    expect(calls).toEqual([
      'stop keel-container-c.service',
      'remove keel-container-c.service',
      'write keel-container-a.service',
      'write keel-container-b.service',
      'daemon-reload',
      'image img',
      'reset-failed keel-container-a.service',
      'start keel-container-b.service',
      'restart keel-container-a.service',
    ]);
    expect(outcomes.every((o) => o.ok)).toBe(true);
  });

  test('a missing image keeps its containers from starting and the others go on', async () => {
    const plan = reconcile({ desired: [a, c], invalid: [], observed: [], firstPass: true });
    const { calls, edges } = recorder({ 'image other': 'no archive provides other' });
    const outcomes = await executePlan(plan, edges);
    expect(calls).toContain('start keel-container-a.service');
    expect(calls).not.toContain('start keel-container-c.service');
    expect(outcomes.filter((o) => !o.ok).map((o) => o.detail)).toEqual(['no archive provides other', 'image for c is not available; not started']);
  });

  test('a failed start is recorded, not thrown', async () => {
    const plan = reconcile({ desired: [a], invalid: [], observed: [], firstPass: true });
    const { edges } = recorder({ 'start keel-container-a.service': 'job failed' });
    const outcomes = await executePlan(plan, edges);
    expect(outcomes.at(-1)).toMatchObject({ ok: false, detail: 'job failed' });
  });
});
