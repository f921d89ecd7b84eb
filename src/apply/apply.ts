/**
 * The one orchestrator that performs a plan against a Host, in the plan's order. First a
 * preflight checks everything the root can refuse (paths, file types, owners, units to
 * enable): a refused plan writes nothing. A filesystem failure that only the doing can
 * show (a full disk, a root changed under us) stops the apply there and names the
 * operation; every file written before it stays whole (writes are crash-safe per file).
 * Unit commands and scripts that fail are reported but do not undo or stop anything else,
 * and the instance is recorded with them, so the next boot does not repeat the whole
 * config for one failed command.
 */
import { type FileBody, type Operation, isLiveOperation } from '../cloudconfig/operation.js';
import type { Plan } from '../cloudconfig/plan.js';
import { describeOperation } from '../cloudconfig/plan-format.js';
import { argvOf } from '../cloudconfig/plan-commands.js';
import { writeInstanceRecord } from './instance-record.js';
import { KeelError } from '../errors.js';
import { version } from '../version.js';
import type { Host } from './host.js';
import { enableUnit, maskUnit } from './unit-links.js';
import { preflight } from './preflight.js';
import { needsNetwork } from './network-phase.js';

export type OutcomeStatus = 'done' | 'unchanged' | 'failed' | 'planned';

export interface Outcome {
  index: number;
  kind: Operation['kind'];
  description: string;
  status: OutcomeStatus;
  /** What was done or why it failed. */
  detail?: string;
}

export interface ApplyReport {
  instanceId: string;
  outcomes: Outcome[];
  /** Unit commands, scripts and commands that did not succeed (one sentence each). */
  failures: string[];
  /** The filesystem operation that stopped the apply, if one did. */
  stoppedAt?: Outcome;
  /** Set when the preflight refused the plan: nothing under the root was changed. */
  nothingWritten?: boolean;
  notes: string[];
}

/** At most ten problems in one sentence, so a hostile config with thousands of them gets a readable refusal. */
function listed(messages: string[]): string {
  const shown = messages.slice(0, 10).join('; ');
  return messages.length > 10 ? `${shown}; and ${messages.length - 10} more problems` : shown;
}

/** Whether the apply as a whole failed (exit 1). */
export function applyFailed(report: ApplyReport): boolean {
  return report.stoppedAt !== undefined || report.failures.length > 0;
}

async function writeFile(host: Host, file: FileBody): Promise<string> {
  const ids = await host.accounts.resolveOwner(file.owner);
  const owner = { mode: file.mode, ...ids };
  if (file.append) {
    // Append goes to what the path names (through a link inside the root), like `>>`.
    const real = await host.fs.resolve(file.path, true);
    const current = (await host.fs.read(real)) ?? Buffer.alloc(0);
    await host.fs.writeAtomic(real, Buffer.concat([current, file.content]), owner);
    return `appended ${file.content.length} bytes to ${real}`;
  }
  const at = await host.fs.writeAtomic(file.path, file.content, owner);
  return `wrote ${at}`;
}

function needUnits(host: Host, op: Operation) {
  if (!host.units) throw new KeelError('internal', `${op.kind} needs a live host with systemd, but no unit manager was given; stopping`);
  return host.units;
}

/** Performs one filesystem operation; returns what it did, or throws. */
async function performFs(host: Host, op: Operation, failures: string[], performed: number): Promise<{ status: OutcomeStatus; detail: string }> {
  const a = host.accounts;
  switch (op.kind) {
    case 'set-hostname': {
      const wrote = await writeFile(host, op.file);
      const units = host.units;
      if (!host.setRunningHostname && !units) return { status: 'done', detail: wrote };
      try {
        if (host.setRunningHostname) await host.setRunningHostname(op.hostname);
        else if (units) {
          // In systemd's namespace, which need not be this process's.
          const r = await units.runTransient(`keel-hostname-${host.runId}.service`, ['/bin/hostname', op.hostname]);
          if (r.result !== 'done') failures.push(`setting the running hostname (unit ${r.unit}) ended with result '${r.result}', expected 'done'`);
        }
      } catch (error) {
        failures.push(`setting the running hostname: ${(error as Error).message}`);
      }
      return { status: 'done', detail: `${wrote}; running hostname set` };
    }
    case 'write-hosts':
    case 'write-file':
    case 'write-sudoers':
    case 'write-oem-release':
    case 'write-keel-config':
    case 'write-etcd-environment':
    case 'write-unit':
    case 'write-drop-in':
      return { status: 'done', detail: await writeFile(host, op.file) };
    case 'set-timezone': {
      await writeFile(host, op.file);
      await host.fs.symlinkAtomic(op.link.path, op.link.target);
      // Only whether the zone file is there: it is not read (it could be anything in a hostile root).
      const present = await host.fs
        .resolve(op.link.target, true)
        .then(async (real) => (await host.fs.entry(real))?.type === 'file')
        .catch(() => false);
      return { status: 'done', detail: `${op.link.path} -> ${op.link.target}${present ? '' : ' (zone file not in this root yet)'}` };
    }
    case 'create-group':
      return { status: (await a.ensureGroup(op.name, op.system)) === 'created' ? 'done' : 'unchanged', detail: op.name };
    case 'create-user':
      return { status: (await a.ensureUser(op.user)) === 'created' ? 'done' : 'unchanged', detail: op.user.name };
    case 'set-password':
      return { status: (await a.setPassword(op.user, op.hash, op.lock)) === 'updated' ? 'done' : 'unchanged', detail: op.user };
    case 'install-ssh-keys':
      return { status: (await a.installSshKeys(op.user, op.keys)) === 'updated' ? 'done' : 'unchanged', detail: op.user };
    case 'mask-unit':
      await maskUnit(host.fs, op.path);
      return { status: 'done', detail: `${op.path} -> /dev/null` };
    case 'enable-unit': {
      const { links, notes } = await enableUnit(host.fs, op.unit, op.runtime);
      return { status: links.length ? 'done' : 'unchanged', detail: [...links, ...notes].join('; ') };
    }
    case 'record-instance':
      await writeInstanceRecord(host.fs, {
        instanceId: op.instanceId,
        userDataSha256: op.userDataSha256,
        appliedAt: host.now.toISOString(),
        keelVersion: version,
        operations: performed,
        failures,
        bootcmds: op.bootcmds,
      });
      return { status: 'done', detail: `recorded instance ${op.instanceId}` };
    default:
      throw new KeelError('internal', `${op.kind} is not a filesystem operation`);
  }
}

/** Runs a live operation; failures go to `failures`, never thrown. */
async function performLive(host: Host, op: Operation, failures: string[]): Promise<{ status: OutcomeStatus; detail: string }> {
  const units = needUnits(host, op);
  const before = failures.length;
  const transient = async (name: string, argv: string[], what: string) => {
    try {
      const r = await units.runTransient(name, argv);
      if (r.result !== 'done') failures.push(`${what} (unit ${r.unit}) ended with result '${r.result}', expected 'done'`);
    } catch (error) {
      failures.push(`${what}: ${(error as Error).message}`);
    }
  };
  switch (op.kind) {
    case 'daemon-reload':
      try {
        await units.daemonReload();
      } catch (error) {
        failures.push(`daemon-reload: ${(error as Error).message}`);
      }
      break;
    case 'unit-command':
      try {
        const r = await units.runUnitCommand(op.unit, op.command, op.noBlock ? { noBlock: true } : {});
        const expected = op.noBlock ? 'queued' : 'done';
        if (r.result !== expected) failures.push(`unit ${op.unit}: ${op.command} job ${op.noBlock ? 'answered' : 'ended with'} result '${r.result}', expected '${expected}'`);
      } catch (error) {
        failures.push(`unit ${op.unit}: ${op.command} failed: ${(error as Error).message}`);
      }
      break;
    case 'run-bootcmd':
    case 'run-commands': {
      const word = op.kind === 'run-bootcmd' ? 'bootcmd' : 'runcmd';
      for (const [i, c] of op.commands.entries()) await transient(`keel-${word}-${host.runId}-${i + 1}.service`, argvOf(c), `${word}[${i}]`);
      break;
    }
    case 'run-script':
      await transient(op.unitName.replace(/\.service$/, `-${host.runId}.service`), [op.path], `user-data script ${op.path}`);
      break;
    default:
      throw new KeelError('internal', `${op.kind} is not a live operation`);
  }
  const failed = failures.length > before;
  return { status: failed ? 'failed' : 'done', detail: failed ? failures.slice(before).join('; ') : '' };
}

/**
 * Performs `plan` on `host`. With `dryRun`, nothing is touched and every operation is
 * reported as planned. Throws only for misuse (a live plan without a unit manager).
 */
export async function applyPlan(plan: Plan, host: Host, options: { dryRun?: boolean } = {}): Promise<ApplyReport> {
  const report: ApplyReport = { instanceId: plan.instanceId, outcomes: [], failures: [], notes: [...plan.notes] };
  if (!options.dryRun && plan.live && !host.units && plan.operations.some(isLiveOperation))
    throw new KeelError('internal', 'a live plan needs a unit manager; none was given');
  const total = plan.operations.length;
  if (!options.dryRun) {
    const problems = await preflight(plan.operations, host);
    const first = problems[0];
    if (first) {
      const op = plan.operations[first.index]!;
      const detail = `${listed(problems.map((p) => p.message))}; refusing to apply, nothing was written`;
      report.stoppedAt = { index: first.index, kind: op.kind, description: describeOperation(op), status: 'failed', detail };
      report.nothingWritten = true;
      report.outcomes.push(report.stoppedAt);
      host.log.error(detail);
      return report;
    }
  }
  let performed = 0;
  let waitedNetwork = false;
  for (const [index, op] of plan.operations.entries()) {
    const description = describeOperation(op);
    if (options.dryRun) {
      report.outcomes.push({ index, kind: op.kind, description, status: 'planned' });
      continue;
    }
    // The local phase ends here: what comes before needed only the disks.
    if (!waitedNetwork && host.waitNetwork && needsNetwork(op)) {
      waitedNetwork = true;
      host.log.info(`[${index + 1}/${total}] waiting for the network before unit commands and commands`);
      await host.waitNetwork();
    }
    host.log.info(`[${index + 1}/${total}] ${description}`);
    if (op.kind === 'daemon-reload' && !plan.live) {
      report.outcomes.push({ index, kind: op.kind, description, status: 'unchanged', detail: 'offline root: systemd reads the unit files when it boots' });
      performed++;
      continue;
    }
    try {
      const r = isLiveOperation(op) ? await performLive(host, op, report.failures) : await performFs(host, op, report.failures, performed);
      const outcome: Outcome = { index, kind: op.kind, description, status: r.status, ...(r.detail ? { detail: r.detail } : {}) };
      report.outcomes.push(outcome);
      if (r.status === 'failed') host.log.error(`[${index + 1}/${total}] ${r.detail}`);
      performed++;
    } catch (error) {
      const message = (error as Error).message;
      const outcome: Outcome = { index, kind: op.kind, description, status: 'failed', detail: message };
      report.outcomes.push(outcome);
      report.stoppedAt = outcome;
      host.log.error(`[${index + 1}/${total}] ${description}: ${message}; stopping here, ${total - index - 1} operations not performed; files written before stay as written`);
      break;
    }
  }
  return report;
}
