/**
 * The planner: a validated cloud-config (or a `#!` script, or nothing) plus the datasource's
 * metadata becomes the ordered list of operations apply performs. Pure: everything is
 * decided here, conflicts included, before anything is written.
 *
 * Order (coreos-cloudinit's, plus cloud-init's bootcmd/runcmd): bootcmd; hostname, hosts,
 * time zone; groups and users; files; keel's config files; units and drop-ins; masks and
 * enables; one daemon-reload; unit commands in list order; the `#!` script or runcmd;
 * the instance record.
 */
import { posix } from 'node:path';
import { KeelError } from '../errors.js';
import type { CloudConfig, Unit } from './model.js';
import type { Metadata } from './metadata.js';
import { type FileBody, type Operation, fileOf } from './operation.js';
import { PlanBuilder, bytes } from './plan-context.js';
import { planSystem } from './plan-system.js';
import { planUsers } from './plan-users.js';
import { maxFileBytes, planFiles } from './plan-files.js';
import { planSettings } from './plan-settings.js';
import { etcdUnitOf, planEtcd, waitsForJob, withEtcdMember } from './plan-etcd.js';
import { planContainers } from './plan-containers.js';
import { planUnits } from './plan-units.js';
import { bootcmdArtifacts, firstBootArtifacts, scriptsDir } from './plan-commands.js';
import { safeInstanceName } from './instance-id.js';

/** What plan needs: the decoded user-data, metadata, the instance and where it applies. */
export interface PlanInput {
  userData: { kind: 'cloud-config'; config: CloudConfig } | { kind: 'script'; text: string } | { kind: 'empty' };
  metadata: Metadata;
  instanceId: string;
  userDataSha256: string;
  /** A live host (systemd running at root `/`): commands run now; otherwise they are installed to run at boot. */
  live: boolean;
}

export interface Plan {
  instanceId: string;
  userDataSha256: string;
  live: boolean;
  operations: Operation[];
  /** Things worth saying that do not stop the apply. */
  notes: string[];
}

/** Builds the plan, or throws KeelError 'conflict' listing every conflict and refusal found. */
export function planCloudConfig(input: PlanInput): Plan {
  const b = new PlanBuilder();
  const config = input.userData.kind === 'cloud-config' ? input.userData.config : undefined;
  const generatedUnits: Unit[] = [];
  const generatedFiles: FileBody[] = [];

  if (config && config.bootcmd.length > 0) {
    if (input.live) b.add({ kind: 'run-bootcmd', commands: config.bootcmd });
    else {
      const a = bootcmdArtifacts(config.bootcmd);
      generatedFiles.push(a.file);
      generatedUnits.push(a.unit);
    }
  }
  planSystem(b, config, input.metadata);
  planUsers(b, config, input.metadata);
  planFiles(b, config);
  planSettings(b, config);
  planContainers(b, config);

  const configUnits = withEtcdMember(b, (config?.units ?? []).map((u) => etcdUnitOf(b, u)), config, input.live);
  // Unit commands are computed with the units but, offline, go into the first-boot script.
  const probe = new PlanBuilder();
  // A live networkd reads files written into its directories only when restarted; at boot it reads them anyway.
  const networkFiles = input.live && (config?.writeFiles ?? []).some((f) => /^\/(etc|run)\/systemd\/network\/[^/]+\.(network|netdev|link)$/.test(posix.normalize(f.path)));
  const unitCommands = planUnits(probe, configUnits, false, networkFiles);
  const script = input.userData.kind === 'script' ? input.userData.text : undefined;
  if (script !== undefined && bytes(script).length > maxFileBytes) b.refuse(`the user-data script is ${bytes(script).length} bytes; expected at most ${maxFileBytes}; refusing to apply`);
  const runcmd = config?.runcmd ?? [];
  const scriptPath = `${scriptsDir}/${safeInstanceName(input.instanceId)}.sh`;
  if (!input.live && (script !== undefined || runcmd.length > 0 || unitCommands.length > 0)) {
    const a = firstBootArtifacts(input.instanceId, script !== undefined ? { script } : { unitCommands, runcmd });
    generatedFiles.push(a.file);
    generatedUnits.push(a.unit);
  } else if (input.live && script !== undefined) {
    generatedFiles.push({ path: scriptPath, content: bytes(script), mode: 0o700 });
  }
  for (const file of generatedFiles) b.add({ kind: 'write-file', file });

  const etcd = planEtcd(b, config);
  planUnits(b, [...configUnits, ...generatedUnits], etcd);
  if (!input.live && configUnits.some((u) => u.runtime))
    b.note('runtime units are written under /run of an offline root; /run is empty when the host boots, so they will not be there');
  if (input.live) {
    for (const c of unitCommands) b.add({ kind: 'unit-command', unit: c.unit, command: c.command, ...(waitsForJob(c) ? {} : { noBlock: true as const }) });
    if (script !== undefined) b.add({ kind: 'run-script', path: scriptPath, unitName: `keel-script-${safeInstanceName(input.instanceId)}.service` });
    if (runcmd.length > 0) b.add({ kind: 'run-commands', commands: runcmd });
  }
  const bootcmds = b.operations.reduce((n, op) => n + (op.kind === 'run-bootcmd' ? op.commands.length : 0), 0);
  b.add({ kind: 'record-instance', instanceId: input.instanceId, userDataSha256: input.userDataSha256, bootcmds });

  b.errors.push(...conflicts(b.operations));
  if (b.errors.length > 0) throw new KeelError('conflict', b.errors.join('\n'));
  return { instanceId: input.instanceId, userDataSha256: input.userDataSha256, live: input.live, operations: b.operations, notes: b.notes };
}

/** Describes an operation that writes a path, for conflict messages. */
function label(op: Operation): string {
  switch (op.kind) {
    case 'write-file':
      return op.file.append ? 'write_files (append)' : 'write_files';
    case 'write-unit':
      return `unit ${op.unit}`;
    case 'write-drop-in':
      return `drop-in ${op.name} of ${op.unit}`;
    case 'mask-unit':
      return `mask of ${op.unit}`;
    case 'set-timezone':
      return 'timezone';
    default:
      return op.kind;
  }
}

/**
 * Two operations on one path: refused, except appends after a write or another append
 * (they add to what is there). The time zone's /etc/localtime link and masks count too.
 */
function conflicts(operations: Operation[]): string[] {
  const byPath = new Map<string, Operation>();
  const out: string[] = [];
  const claim = (path: string, op: Operation) => {
    const key = posix.normalize(path);
    const earlier = byPath.get(key);
    const appending = op.kind === 'write-file' && op.file.append === true;
    if (earlier && !(appending && earlier.kind === 'write-file')) {
      out.push(`${key} is written twice, by ${label(earlier)} and by ${label(op)}; expected one writer per path; refusing to apply`);
      return;
    }
    if (!earlier) byPath.set(key, op);
  };
  for (const op of operations) {
    const file = fileOf(op);
    if (file) claim(file.path, op);
    if (op.kind === 'set-timezone') claim(op.link.path, op);
    if (op.kind === 'mask-unit') claim(op.path, op);
  }
  return out;
}
