import { runCommand, type RunCommand } from '../host/process.js';
import { isValidUnitName } from '../systemd/unit-name.js';
import { containerNamePattern } from '../containers/spec-schema.js';
import { groupProblem } from '../lock/group-keys.js';
import { HostContainerProbe, containersProblem, type ContainerProbe } from './pre-reboot-containers.js';
import { groupClearProblem, type GroupProbe } from './pre-reboot-group.js';
import { etcdQuorumProblem, type EtcdQuorumProbe } from './pre-reboot-etcd.js';

/**
 * Checks that must pass before the agent asks for a reboot slot: a command that must exit 0
 * (PRE_REBOOT_COMMAND, run by /bin/sh), units that must be active (PRE_REBOOT_UNITS, space-
 * or comma-separated), keel containers that must be active and healthy
 * (PRE_REBOOT_CONTAINERS: `all` or names), a group of which no node may be failed or
 * rebooting (PRE_REBOOT_GROUP_CLEAR), and, on a host that runs an etcd member, that its
 * cluster keeps a quorum without it (PRE_REBOOT_ETCD_QUORUM, `auto` unless `off`:
 * pre-reboot-etcd.ts). A failing check keeps the node from asking; the agent logs the reason
 * and tries again on its next tick.
 */
export interface PreRebootChecks {
  command?: string;
  units: string[];
  /** Every keel container (`all`) or these; absent: containers are not checked. */
  containers?: 'all' | string[];
  /** A fleet group (often the node's own) that must have no failed or rebooting node. */
  groupClear?: string;
  /** False: PRE_REBOOT_ETCD_QUORUM=off. Otherwise checked wherever the host runs an etcd member (the edge exists). */
  etcdQuorum?: boolean;
}

/** The edges the container and group checks read; a check whose edge is missing fails and says why. */
export interface PreRebootEdges {
  run?: RunCommand;
  containers?: ContainerProbe;
  /** The fleet records (etcd), and this node's machine id, left out of the group check. */
  group?: GroupProbe;
  /** The members of the etcd cluster this host's member belongs to; absent where the host runs none. */
  etcd?: EtcdQuorumProbe;
}

/** How long the command may run before it counts as failed. */
const commandTimeoutMs = 5 * 60_000;

const list = (text: string | undefined) => (text ?? '').split(/[\s,]+/).filter(Boolean);
const shown = (names: string[]) => names.map((u) => `'${u.slice(0, 80)}'`).join(', ');

/** The checks from update.conf's keys; a bad unit, container or group name is a problem naming its key. */
export function preRebootOf(values: Record<string, string>, where: (key: string) => string, problems: string[]): PreRebootChecks {
  const units = list(values.PRE_REBOOT_UNITS);
  const bad = units.filter((u) => !isValidUnitName(u));
  if (bad.length) problems.push(`${where('PRE_REBOOT_UNITS')}: expected unit names such as web.service, found ${shown(bad)}`);
  const checks: PreRebootChecks = { units: units.filter((u) => isValidUnitName(u)) };
  if (values.PRE_REBOOT_COMMAND?.trim()) checks.command = values.PRE_REBOOT_COMMAND;
  const containers = list(values.PRE_REBOOT_CONTAINERS);
  if (containers.length === 1 && containers[0] === 'all') checks.containers = 'all';
  else if (containers.length > 0) {
    // `all` stands alone: in a list it would be ambiguous with a container named all.
    const badNames = containers.filter((c) => !containerNamePattern.test(c) || c === 'all');
    if (badNames.length) problems.push(`${where('PRE_REBOOT_CONTAINERS')}: expected all alone or container names of lowercase letters, digits, ., _ and -, found ${shown(badNames)}`);
    else checks.containers = [...new Set(containers)];
  }
  const group = values.PRE_REBOOT_GROUP_CLEAR?.trim();
  if (group) {
    const problem = groupProblem(group);
    if (problem) problems.push(`${where('PRE_REBOOT_GROUP_CLEAR')}: ${problem}`);
    else checks.groupClear = group;
  }
  const quorum = values.PRE_REBOOT_ETCD_QUORUM?.trim();
  if (quorum === 'off') checks.etcdQuorum = false;
  else if (quorum && quorum !== 'auto') problems.push(`${where('PRE_REBOOT_ETCD_QUORUM')}: expected auto or off, found '${quorum.slice(0, 80)}'`);
  return checks;
}

/**
 * Runs the checks, cheapest first, through the edges: undefined when all pass, otherwise why
 * the node may not ask for a slot (the first check that fails; the others are not run).
 */
export async function runPreRebootChecks(c: PreRebootChecks, run: RunCommand = runCommand, edges: Omit<PreRebootEdges, 'run'> = {}): Promise<string | undefined> {
  if (c.command !== undefined) {
    const r = await run('/bin/sh', ['-c', c.command], { timeoutMs: commandTimeoutMs }).catch((error: Error) => error);
    const failed = r instanceof Error ? `could not start (${r.message})` : r.timedOut ? `did not finish within ${commandTimeoutMs / 60_000} min` : r.exitCode !== 0 ? (r.signal ? `was killed (${r.signal})` : `exited ${r.exitCode}`) : undefined;
    if (failed !== undefined) {
      const said = r instanceof Error ? '' : `${r.stdout}\n${r.stderr}`.trim().split('\n').slice(-1)[0]!.slice(0, 200);
      return `pre-reboot command ${JSON.stringify(c.command.slice(0, 200))} ${failed}${said ? `: ${said}` : ''}`;
    }
  }
  if (c.units.length > 0) {
    const r = await run('systemctl', ['is-active', '--', ...c.units]).catch((error: Error) => error);
    if (r instanceof Error) return `pre-reboot units: cannot ask systemctl (${r.message})`;
    const states = r.stdout.split('\n');
    const inactive = c.units.map((u, i) => [u, states[i]?.trim() || 'unknown'] as const).filter(([, s]) => s !== 'active');
    if (inactive.length) return `pre-reboot units not active: ${inactive.map(([u, s]) => `${u} (${s})`).join(', ')}`;
  }
  if (c.containers !== undefined) {
    if (!edges.containers) return 'pre-reboot containers: no way to read the containers here';
    const problem = await containersProblem(c.containers, edges.containers);
    if (problem !== undefined) return problem;
  }
  if (c.groupClear !== undefined) {
    if (!edges.group) return `pre-reboot group ${c.groupClear}: no etcd to read its nodes from (PRE_REBOOT_GROUP_CLEAR needs etcd endpoints in /etc/keel/lock.conf)`;
    const problem = await groupClearProblem(c.groupClear, edges.group);
    if (problem !== undefined) return problem;
  }
  if (c.etcdQuorum !== false && edges.etcd) return etcdQuorumProblem(edges.etcd);
  return undefined;
}

/**
 * The agent's pre-reboot stage on a host: the checks of update.conf with their edges. The
 * host's container probe (a D-Bus client) is made only when containers are checked, at the
 * first check, and kept until `close`; a probe handed in is the caller's to close.
 */
export class PreRebootStage {
  private hostProbe: HostContainerProbe | undefined;

  constructor(
    private readonly root: string,
    private readonly checks: PreRebootChecks,
    private readonly edges: Omit<PreRebootEdges, 'run'> & { run?: RunCommand } = {},
  ) {}

  /** Undefined when every check passes (or there are none), else why the node may not ask for a slot. */
  async run(): Promise<string | undefined> {
    const { run = runCommand, ...edges } = this.edges;
    if (this.checks.containers !== undefined && !edges.containers) edges.containers = this.hostProbe ??= new HostContainerProbe(this.root);
    return runPreRebootChecks(this.checks, run, edges);
  }

  async close(): Promise<void> {
    await this.hostProbe?.close();
    this.hostProbe = undefined;
  }
}
