/**
 * `keel cloud-config plan` and `keel cloud-config apply`: read user-data from a file or a
 * datasource, plan it, and (apply) perform the plan under a root. A live host (root `/`
 * with systemd running) gets its unit commands over D-Bus; any other root is prepared
 * offline, with commands installed to run on first boot.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { KeelError } from '../errors.js';
import { formatProblem } from '../problem.js';
import { createLogger } from '../log.js';
import type { Metadata } from '../cloudconfig/metadata.js';
import { planUserData } from '../cloudconfig/pipeline.js';
import type { Plan } from '../cloudconfig/plan.js';
import { formatPlan, planJson } from '../cloudconfig/plan-format.js';
import { isLiveOperation } from '../cloudconfig/operation.js';
import { writeKernelHostname } from '../host/kernel-hostname.js';
import { defaultIpv4Route } from '../host/default-route.js';
import { sharesNamespaceWithSystemd } from '../host/systemd-namespace.js';
import { applyFailed, applyPlan, type ApplyReport } from '../apply/apply.js';
import { planForInstance } from '../apply/once-per-instance.js';
import { detectionNeedsNetwork, waitNetworkOnline } from '../apply/network-phase.js';
import { RootFs } from '../host/root-fs.js';
import { Accounts } from '../host/accounts.js';
import { daysSinceEpoch } from '../host/passwd-db.js';
import type { UnitManager } from '../host/unit-manager.js';
import { type Command, type CommandContext, type OptionSpec, printJson, stringOption } from './command.js';

const sourceOptions: Record<string, OptionSpec> = {
  root: { type: 'string', valueName: 'DIR', description: 'apply under this root directory (default /)' },
  'from-file': { type: 'string', valueName: 'F', description: "read user-data from a file ('-' = stdin)" },
  datasource: { type: 'string', valueName: 'NAME', description: "read user-data from a datasource: nocloud, config-drive, cmdline, ec2, file, or 'auto' (first boot: whichever is present)" },
  seed: { type: 'string', valueName: 'PATH', description: 'datasource seed: a nocloud/config-drive directory, or the file source path' },
  'metadata-url': { type: 'string', valueName: 'URL', description: 'ec2 datasource: metadata service base URL' },
};

/** The user-data, its metadata, and the name problems are reported under. */
interface Loaded {
  bytes: Uint8Array;
  metadata: Metadata;
  origin: string;
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * What the network wait may stop at besides network-online.target: an IPv4 default route,
 * read from the kernel where keel shares systemd's network namespace (a booted host's
 * service; not under KEEL_SYSTEMD_BUS, where the namespace is another's).
 */
async function usableRouteProbe(): Promise<(() => Promise<string | undefined>) | undefined> {
  if (process.env.KEEL_SYSTEMD_BUS || !(await sharesNamespaceWithSystemd('net'))) return undefined;
  return () => defaultIpv4Route();
}

/**
 * `--datasource auto` (keel-cloudinit.service on first boot): polls config-drive, NoCloud and
 * the command line (and ec2 when --metadata-url is given) for KEEL_DATASOURCE_WAIT_S seconds
 * (default 10: local disks are there once udev has seen them). Undefined when none is
 * present: a host without a cloud-config is not an error.
 */
async function loadDetected(ctx: CommandContext): Promise<Loaded | undefined> {
  const { detectDatasources } = await import('../cloudconfig/datasources/index.js');
  const metadataUrl = stringOption(ctx.values, 'metadata-url');
  const waitS = Number(process.env.KEEL_DATASOURCE_WAIT_S ?? '10');
  // keel-cloudinit starts before the network: a source read over HTTP waits for it first.
  const cmdline = await readFile('/proc/cmdline', 'utf8').catch(() => '');
  const remote = detectionNeedsNetwork(cmdline, metadataUrl);
  if (remote && rootOf(ctx).live) {
    ctx.stderr.write('keel: the datasource is read over the network: waiting for network-online.target\n');
    const units = await connectUnits(process.env);
    await waitNetworkOnline(units, createLogger(ctx.stderr), await usableRouteProbe()).finally(() => units.close());
  }
  // A URL the command line names gets at least a minute: under emulation node's first fetch
  // alone can outlast one 5 s request timeout (seen in the cloud-config-url e2e at load ~18).
  const deadlineS = Math.max(Number.isFinite(waitS) ? waitS : 10, remote ? 60 : 0);
  const found = await detectDatasources({ ...(metadataUrl ? { metadataUrl } : {}), deadlineMs: deadlineS * 1000 });
  for (const [name, error] of Object.entries(found.errors)) if (!found.result) ctx.stderr.write(`keel: datasource ${name}: ${error.message}\n`);
  if (!found.result) return undefined;
  ctx.stderr.write(`keel: user-data from ${found.result.source}\n`);
  return { bytes: found.result.userData, metadata: found.result.metadata, origin: found.result.source };
}

/** Reads user-data from --from-file or --datasource (exactly one of them: usage error otherwise). */
async function load(ctx: CommandContext): Promise<Loaded | undefined> {
  const file = stringOption(ctx.values, 'from-file');
  const source = stringOption(ctx.values, 'datasource');
  if (file !== undefined && source !== undefined) throw new KeelError('usage', 'give either --from-file or --datasource, not both');
  if (file === undefined && source === undefined) throw new KeelError('usage', 'no user-data: expected --from-file F or --datasource NAME');
  if (file !== undefined) {
    let bytes: Buffer;
    try {
      bytes = file === '-' ? await readStdin() : await readFile(file);
    } catch (error) {
      throw new KeelError('not-found', `cannot read ${file}: ${(error as Error).message}; nothing applied`, { cause: error });
    }
    return { bytes, metadata: { sshPublicKeys: [] }, origin: file === '-' ? '<stdin>' : file };
  }
  if (source === 'auto') return loadDetected(ctx);
  // Imported only when used: detection code pulls in mounting and HTTP.
  const { readDatasource } = await import('../cloudconfig/datasources/index.js');
  const seed = stringOption(ctx.values, 'seed');
  const metadataUrl = stringOption(ctx.values, 'metadata-url');
  const result = await readDatasource(source!, { ...(seed ? (source === 'file' ? { path: seed } : { seedDir: seed }) : {}), ...(metadataUrl ? { metadataUrl } : {}) });
  if (!result) throw new KeelError('not-found', `datasource ${source} is not present on this host (no disk, URL or service found); nothing applied`);
  return { bytes: result.userData, metadata: result.metadata, origin: result.source };
}

/** The root as given, and whether it is a live host (root `/` with systemd running). */
function rootOf(ctx: CommandContext): { root: string; live: boolean } {
  const root = resolve(stringOption(ctx.values, 'root') ?? '/');
  return { root, live: root === '/' && existsSync('/run/systemd/system') };
}

/** Loads and plans; prints located problems and returns undefined when the config is invalid. */
async function loadPlan(ctx: CommandContext, live: boolean): Promise<Plan | undefined | 'no-datasource'> {
  const loaded = await load(ctx);
  if (!loaded) {
    ctx.stderr.write('keel: no datasource found (config-drive, nocloud, cmdline); nothing to apply\n');
    return 'no-datasource';
  }
  const result = planUserData({ userData: loaded.bytes, metadata: loaded.metadata, live });
  if (!result.ok) {
    for (const p of result.problems) ctx.stderr.write(formatProblem(loaded.origin, p) + '\n');
    ctx.stderr.write(`keel: ${loaded.origin} is not a valid cloud-config; nothing applied\n`);
    return undefined;
  }
  for (const w of result.warnings) ctx.stderr.write(formatProblem(loaded.origin, w) + '\n');
  return result.plan;
}

export const planCommand: Command = {
  name: 'plan',
  summary: 'print the operations a cloud-config becomes, in order, without doing anything',
  options: sourceOptions,
  json: true,
  maxPositionals: 0,
  details: 'Exit 1 when the config is invalid (its problems are printed as FILE:LINE:COL) or contradicts itself.',
  async run(ctx) {
    const plan = await loadPlan(ctx, rootOf(ctx).live);
    if (plan === 'no-datasource') return 0;
    if (!plan) return 1;
    if (ctx.json) printJson(ctx, planJson(plan));
    else ctx.stdout.write(formatPlan(plan));
    return 0;
  },
};

function summary(report: ApplyReport, root: string): string {
  const count = (s: string) => report.outcomes.filter((o) => o.status === s).length;
  const lines = [`instance ${report.instanceId}: ${count('done')} operations done, ${count('unchanged')} already in place, under ${root}`];
  for (const n of report.notes) lines.push(`note: ${n}`);
  // A preflight refusal's detail already says that nothing was written.
  const after = report.nothingWritten ? '' : '; the operations after it were not performed';
  if (report.stoppedAt) lines.push(`failed at operation ${report.stoppedAt.index + 1} (${report.stoppedAt.description}): ${report.stoppedAt.detail}${after}`);
  for (const f of report.failures) lines.push(`failed: ${f}`);
  return lines.join('\n') + '\n';
}

/**
 * The apply's clock: SOURCE_DATE_EPOCH (seconds) when set, so an image build or a golden
 * test produces the same shadow dates and instance record every time; otherwise now.
 */
function nowOf(env: NodeJS.ProcessEnv): Date {
  const epoch = env.SOURCE_DATE_EPOCH;
  if (epoch !== undefined && /^\d+$/.test(epoch)) return new Date(Number(epoch) * 1000);
  return new Date();
}

/**
 * Connects to systemd on a live host. KEEL_SYSTEMD_BUS (a D-Bus address such as
 * `unix:path=/run/systemd/private`) names the bus; read here, and only here, so the edge
 * below takes the address as an option.
 */
async function connectUnits(env: NodeJS.ProcessEnv): Promise<UnitManager> {
  // Lazily: only a live host needs D-Bus, and loading it costs start-up time.
  const { SystemdUnitManager } = await import('../host/systemd-unit-manager.js');
  const address = env.KEEL_SYSTEMD_BUS;
  return SystemdUnitManager.connect(address ? { address } : {});
}

export const applyCommand: Command = {
  name: 'apply',
  summary: 'apply a cloud-config under a root (or to this live host), once per instance',
  options: {
    ...sourceOptions,
    'dry-run': { type: 'boolean', description: 'print the plan and write nothing' },
    force: { type: 'boolean', description: 'apply again although this instance was already applied' },
  },
  json: true,
  maxPositionals: 0,
  details:
    'Exit 1 when the config is invalid (nothing is written), when a file operation fails (files written before it stay whole), or when a unit command or script fails (everything else stays applied).',
  async run(ctx) {
    const { root, live } = rootOf(ctx);
    const plan = await loadPlan(ctx, live);
    if (plan === 'no-datasource') return 0;
    if (!plan) return 1;
    if (ctx.values['dry-run'] === true) {
      if (ctx.json) printJson(ctx, { ...planJson(plan), dryRun: true });
      else ctx.stdout.write(formatPlan(plan) + 'dry run: nothing written\n');
      return 0;
    }
    const fs = new RootFs(root);
    const now = nowOf(process.env);
    const { plan: toApply, previous, userDataChanged } = await planForInstance(fs, plan, ctx.values.force === true);
    if (previous) {
      const changed = userDataChanged ? ` (the user-data changed since: sha256 ${plan.userDataSha256.slice(0, 16)}… now, ${previous.userDataSha256.slice(0, 16)}… then)` : '';
      ctx.stderr.write(`keel: instance ${plan.instanceId} was already applied at ${previous.appliedAt}${changed}; nothing to do (use --force to apply again)\n`);
      if (toApply.operations.length === 0) {
        if (ctx.json) printJson(ctx, { instanceId: plan.instanceId, alreadyApplied: true, outcomes: [], failures: [] });
        return 0;
      }
    }
    // The running hostname is written by keel itself when it runs in systemd's namespace (a
    // service on a booted host); otherwise a transient unit sets it there.
    const ownHostname = live && !process.env.KEEL_SYSTEMD_BUS && toApply.operations.some((op) => op.kind === 'set-hostname') && (await sharesNamespaceWithSystemd('uts'));
    const units = live && toApply.operations.some((op) => isLiveOperation(op) || (op.kind === 'set-hostname' && !ownHostname)) ? await connectUnits(process.env) : undefined;
    let report: ApplyReport;
    try {
      report = await applyPlan(toApply, {
        fs,
        accounts: new Accounts(fs, daysSinceEpoch(now)),
        ...(units ? { units } : {}),
        log: createLogger(ctx.stderr),
        now,
        runId: now.getTime().toString(36),
        ...(units ? { waitNetwork: async () => waitNetworkOnline(units, createLogger(ctx.stderr), await usableRouteProbe()) } : {}),
        ...(ownHostname ? { setRunningHostname: (name: string) => writeKernelHostname(name) } : {}),
      });
    } finally {
      await units?.close();
    }
    if (ctx.json) printJson(ctx, { ...report, root, live });
    else ctx.stdout.write(summary(report, root));
    return applyFailed(report) ? 1 : 0;
  },
};
