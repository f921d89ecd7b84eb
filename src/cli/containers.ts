import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { KeelError } from '../errors.js';
import { createLogger } from '../log.js';
import { formatProblem, hasErrors } from '../problem.js';
import { type Command, type CommandContext, type CommandGroup, type OptionSpec, printJson, stringOption } from './command.js';
import { etcdClient, listEndpoints } from '../containers/discovery.js';
import { ArchiveImageSource, imageDirectory } from '../containers/image-source.js';
import { Podman } from '../containers/podman.js';
import { describeAction, observeUnits, reconcilePass } from '../containers/reconcile-pass.js';
import { readSpecDirectory, readSpecFile } from '../containers/spec-files.js';
import { Supervisor, stateDirectory } from '../containers/supervisor.js';
import { readSettings } from '../containers/supervisor-settings.js';
import { systemdVersionOf, unitControlOf, unitStateOf } from '../containers/systemd-units.js';
import { SystemdBus } from '../host/systemd-bus.js';
import { defaultRenderOptions, unitFromSpec, unitNameOf, type RenderOptions } from '../containers/unit-from-spec.js';

const rootOption: OptionSpec = { type: 'string', valueName: 'DIR', description: 'act on the host tree under DIR (default /)' };
const busOption: OptionSpec = { type: 'string', valueName: 'ADDRESS', description: 'D-Bus address of the system bus (default unix:path=ROOT/run/dbus/system_bus_socket)' };
const common = { root: rootOption, bus: busOption };

function rootOf(ctx: CommandContext): string {
  return stringOption(ctx.values, 'root') ?? '/';
}
function busOf(ctx: CommandContext): string {
  return stringOption(ctx.values, 'bus') ?? `unix:path=${join(rootOf(ctx), 'run/dbus/system_bus_socket')}`;
}
async function withSystemd<T>(ctx: CommandContext, f: (c: SystemdBus) => Promise<T>): Promise<T> {
  const client = await SystemdBus.connect({ address: busOf(ctx) });
  try {
    return await f(client);
  } finally {
    await client.close();
  }
}
function out(ctx: CommandContext, text: string): void {
  ctx.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}
function containerArg(ctx: CommandContext): string {
  const name = ctx.positionals[0]!;
  if (!/^[a-z0-9][a-z0-9_.-]*$/.test(name)) throw new KeelError('usage', `expected a container name, found ${JSON.stringify(name)}`);
  return name;
}
async function renderOptions(ctx: CommandContext, client?: SystemdBus): Promise<RenderOptions> {
  const s = await readSettings(rootOf(ctx));
  const v = stringOption(ctx.values, 'systemd-version');
  return { ...defaultRenderOptions, podmanPath: s.podmanPath, podmanArgs: s.podmanArgs, systemdVersion: v ? Number(v) : client ? await systemdVersionOf(client) : defaultRenderOptions.systemdVersion };
}

const render: Command = {
  name: 'render',
  summary: 'print the systemd unit a container spec file becomes',
  usage: 'SPEC',
  minPositionals: 1,
  maxPositionals: 1,
  options: { root: rootOption, 'systemd-version': { type: 'string', valueName: 'N', description: 'render for systemd N (254+ does the restart backoff itself; default 252)' } },
  details:
    'SPEC is a YAML file as in /etc/keel/containers/NAME.yaml. Problems are printed as FILE:LINE:COL; an error exits 1 and prints no unit. ' +
    "The unit's `# security:` header line names every confinement switch, defaults included (docs/security.md).",
  async run(ctx) {
    const file = ctx.positionals[0]!;
    const spec = await readSpecFile(file).catch((e: NodeJS.ErrnoException) => {
      throw new KeelError(e.code === 'ENOENT' ? 'not-found' : 'io', `${file}: ${e.message}`);
    });
    for (const p of spec.problems) ctx.stderr.write(formatProblem(file, p) + '\n');
    if (!spec.spec || hasErrors(spec.problems)) return 1;
    out(ctx, unitFromSpec(spec.spec, await renderOptions(ctx)));
    return 0;
  },
};

const list: Command = {
  name: 'list',
  summary: 'list containers: spec, unit state and problems',
  options: common,
  json: true,
  maxPositionals: 0,
  async run(ctx) {
    const specs = await readSpecDirectory(rootOf(ctx));
    const observed = await withSystemd(ctx, (c) => observeUnits(rootOf(ctx), c));
    const names = [...new Set([...specs.map((s) => s.name), ...observed.map((o) => o.name)])].sort();
    const rows = names.map((name) => {
      const s = specs.find((x) => x.name === name);
      const o = observed.find((x) => x.name === name);
      return { name, unit: unitNameOf(name), image: s?.spec?.image ?? null, spec: s ? (s.spec ? 'valid' : 'invalid') : 'none', state: o?.activeState ?? 'not-loaded', result: o?.result ?? null };
    });
    if (ctx.json) printJson(ctx, rows);
    else {
      out(ctx, `${'NAME'.padEnd(20)} ${'STATE'.padEnd(12)} ${'SPEC'.padEnd(8)} IMAGE`);
      for (const r of rows) out(ctx, `${r.name.padEnd(20)} ${r.state.padEnd(12)} ${r.spec.padEnd(8)} ${r.image ?? '-'}`);
    }
    return 0;
  },
};

const status: Command = {
  name: 'status',
  summary: "one container's unit state, restarts, health and spec problems",
  usage: 'NAME',
  minPositionals: 1,
  maxPositionals: 1,
  options: common,
  json: true,
  async run(ctx) {
    const name = containerArg(ctx);
    const root = rootOf(ctx);
    const spec = (await readSpecDirectory(root)).find((s) => s.name === name);
    const state = await withSystemd(ctx, (c) => unitStateOf(c, unitNameOf(name)));
    const supervisor = JSON.parse(await readFile(join(root, stateDirectory, `${name}.json`), 'utf8').catch(() => '{}')) as Record<string, unknown>;
    if (!spec && state.loadState === 'not-found') throw new KeelError('not-found', `container ${name}: no spec in /etc/keel/containers and no unit ${unitNameOf(name)}`);
    const { name: _unit, ...unitState } = state;
    const data = {
      name,
      unit: unitNameOf(name),
      spec: spec ? { path: spec.path, valid: Boolean(spec.spec), problems: spec.problems.map((p) => formatProblem(spec.path, p)), image: spec.spec?.image } : null,
      ...unitState,
      health: supervisor.health ?? null,
      failuresInARow: supervisor.failuresInARow ?? 0,
      announced: supervisor.announced ?? false,
    };
    if (ctx.json) printJson(ctx, data);
    else {
      out(ctx, `${name}: ${state.activeState} (${state.subState}), result ${state.result}, ${state.nRestarts} restarts${data.health ? `, health ${data.health}` : ''}`);
      out(ctx, `unit: ${data.unit} (${state.loadState})`);
      if (data.spec) out(ctx, `spec: ${data.spec.path} (${data.spec.valid ? 'valid' : 'invalid'})${data.spec.image ? `, image ${data.spec.image}` : ''}`);
      for (const p of data.spec?.problems ?? []) out(ctx, `  ${p}`);
    }
    return state.activeState === 'active' ? 0 : 1;
  },
};

const logs: Command = {
  name: 'logs',
  summary: "a container's output, from the journal",
  usage: 'NAME',
  minPositionals: 1,
  maxPositionals: 1,
  options: {
    root: rootOption,
    lines: { type: 'string', short: 'n', valueName: 'N', description: 'show the last N lines (default 100)' },
    follow: { type: 'boolean', short: 'f', description: 'keep printing new lines' },
  },
  async run(ctx) {
    const name = containerArg(ctx);
    const root = rootOf(ctx);
    const args = [...(root !== '/' ? ['--root', root] : []), '-u', unitNameOf(name), '-o', 'cat', '--no-pager', '-n', stringOption(ctx.values, 'lines') ?? '100', ...(ctx.values.follow ? ['-f'] : [])];
    const r = await execa('journalctl', args, { stdout: 'inherit', stderr: 'inherit', reject: false });
    return r.exitCode === 0 ? 0 : 1;
  },
};

const restart: Command = {
  name: 'restart',
  summary: 'restart a container now (clears its failure count)',
  usage: 'NAME',
  minPositionals: 1,
  maxPositionals: 1,
  options: common,
  json: true,
  async run(ctx) {
    const name = containerArg(ctx);
    const result = await withSystemd(ctx, async (c) => {
      const units = unitControlOf(c);
      await units.resetFailed(unitNameOf(name));
      return units.restart(unitNameOf(name));
    });
    if (ctx.json) printJson(ctx, { name, unit: unitNameOf(name), result });
    else out(ctx, `restart ${unitNameOf(name)}: ${result}`);
    return result === 'done' ? 0 : 1;
  },
};

const apply: Command = {
  name: 'apply',
  summary: 'reconcile once: write, remove, start, restart and stop units to match the specs',
  options: { ...common, 'dry-run': { type: 'boolean', description: 'print the plan and change nothing' } },
  json: true,
  maxPositionals: 0,
  async run(ctx) {
    const root = rootOf(ctx);
    const settings = await readSettings(root);
    const r = await withSystemd(ctx, async (c) =>
      reconcilePass({ root, systemd: c, images: new ArchiveImageSource(new Podman(settings.podmanPath, settings.podmanArgs), join(root, imageDirectory)), render: await renderOptions(ctx, c), firstPass: false, dryRun: ctx.values['dry-run'] === true }),
    );
    const failed = r.outcomes.filter((o) => !o.ok);
    if (ctx.json) {
      printJson(ctx, { problems: r.problems.map((p) => formatProblem(p.file, p)), actions: r.plan.actions.map(describeAction), outcomes: r.outcomes.map((o) => ({ action: describeAction(o.action), ok: o.ok, detail: o.detail })), unchanged: r.plan.unchanged, kept: r.plan.kept });
    } else {
      for (const p of r.problems) ctx.stderr.write(`${formatProblem(p.file, p)}\n`);
      if (ctx.values['dry-run']) for (const a of r.plan.actions) out(ctx, describeAction(a));
      for (const o of r.outcomes) out(ctx, `${o.ok ? 'ok' : 'FAILED'} ${describeAction(o.action)}: ${o.detail}`);
      for (const k of r.plan.kept) out(ctx, `kept ${unitNameOf(k)} as it was: its spec is invalid`);
      if (r.plan.actions.length === 0) out(ctx, `nothing to do (${r.plan.unchanged.length} unchanged)`);
    }
    return failed.length > 0 || hasErrors(r.problems) ? 1 : 0;
  },
};

const supervise: Command = {
  name: 'supervise',
  summary: 'the supervisor daemon (keel-supervisor.service): keep containers equal to their specs',
  options: { ...common, etcd: { type: 'string', multiple: true, valueName: 'URL', description: 'announce to this etcd endpoint (overrides supervisor.yaml)' }, 'rescan-seconds': { type: 'string', valueName: 'N', description: 'reconcile at least every N seconds (default 30)' } },
  maxPositionals: 0,
  async run(ctx) {
    const root = rootOf(ctx);
    const settings = await readSettings(root);
    const etcd = ctx.values.etcd as string[] | undefined;
    if (etcd?.length) {
      settings.discoveryEndpoints = etcd;
      delete settings.discoveryTls; // the local member's files are for the local member
    }
    const controller = new AbortController();
    const stop = () => controller.abort();
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    const rescan = Number(stringOption(ctx.values, 'rescan-seconds') ?? 30);
    await new Supervisor({ root, busAddress: busOf(ctx), settings, log: createLogger(ctx.stderr), rescanMs: rescan * 1000 }).run(controller.signal);
    return 0;
  },
};

const endpoints: Command = {
  name: 'endpoints',
  summary: 'list service discovery entries in etcd, all or one container name',
  usage: '[NAME]',
  maxPositionals: 1,
  options: { root: rootOption, etcd: { type: 'string', multiple: true, valueName: 'URL', description: "etcd endpoint (default: discovery.endpoints of supervisor.yaml, else this host's etcd member)" } },
  json: true,
  async run(ctx) {
    const flag = ctx.values.etcd as string[] | undefined;
    const settings = flag ? undefined : await readSettings(rootOf(ctx));
    const etcd = flag ?? settings!.discoveryEndpoints;
    if (etcd.length === 0) throw new KeelError('usage', 'no etcd endpoint: give --etcd URL, set discovery.endpoints in /etc/keel/supervisor.yaml, or configure this host\'s etcd member in cloud-config');
    const client = await etcdClient(etcd, settings?.discoveryTls);
    try {
      const list = await listEndpoints(client, ctx.positionals[0]);
      if (ctx.json) printJson(ctx, list);
      else for (const e of list) out(ctx, `${e.name} ${e.machineId} ${e.ports.map((p) => `${p.hostIp ?? e.address}:${p.hostPort}/${p.protocol}`).join(' ')}`);
      return 0;
    } finally {
      client.close();
    }
  },
};

/** `keel containers`: containers run as systemd units: list, status, logs, restart, apply, render, supervise. */
export const containersCommands: CommandGroup = {
  name: 'containers',
  summary: 'containers run as systemd units: list, status, logs, restart, apply, render, supervise',
  commands: [list, status, logs, restart, apply, render, supervise, endpoints],
};
