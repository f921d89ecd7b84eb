/**
 * The pre-reboot check "keel containers healthy" (PRE_REBOOT_CONTAINERS=all or names): each
 * container of the supervisor (a spec in /etc/keel/containers) must be active in systemd
 * and, when its spec has a health check, healthy by the supervisor's last probe. The
 * judgement is pure (`judgeContainers`); `ContainerProbe` is the edge: the spec files, the
 * unit's state over keel's D-Bus client (src/host/systemd-bus.ts), and the record the
 * supervisor keeps for `keel containers status` (/run/keel/containers/<name>.json). The
 * agent does not probe containers itself: two probers would disagree.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatProblem, hasErrors } from '../problem.js';
import { readSpecDirectory } from '../containers/spec-files.js';
import { stateDirectory } from '../containers/supervisor.js';
import { unitStateOf } from '../containers/systemd-units.js';
import { unitNameOf } from '../containers/unit-from-spec.js';
import { SystemdBus, defaultSystemdAddress } from '../host/systemd-bus.js';

/** A spec as the check sees it: valid or why not, and whether it has a health check. */
export interface ContainerSpecFact {
  name: string;
  /** The first error of an invalid spec (file:line:column); the container would not come back after a reboot. */
  invalid?: string;
  hasHealthCheck: boolean;
}

/** What the check reads; tests pass a double. */
export interface ContainerProbe {
  specs(): Promise<ContainerSpecFact[]>;
  unitState(unit: string): Promise<{ activeState: string; subState: string }>;
  /** The supervisor's last health verdict (`starting`, `healthy`, `unhealthy`), undefined when it recorded none. */
  health(name: string): Promise<string | undefined>;
}

/** One container's facts, read through the probe. */
export interface ContainerFact {
  name: string;
  spec: ContainerSpecFact | undefined;
  state?: { activeState: string; subState: string };
  health?: string;
}

/** Why the containers are not ready, one clause each, or undefined; pure. */
export function judgeContainers(facts: ContainerFact[]): string | undefined {
  const problems: string[] = [];
  for (const f of facts) {
    if (!f.spec) problems.push(`${f.name} (no spec in /etc/keel/containers)`);
    else if (f.spec.invalid !== undefined) problems.push(`${f.name} (its spec is invalid: ${f.spec.invalid})`);
    else if (f.state?.activeState !== 'active') problems.push(`${f.name} (${f.state ? `${f.state.activeState}/${f.state.subState}` : 'unknown to systemd'})`);
    else if (f.spec.hasHealthCheck && f.health !== 'healthy') problems.push(`${f.name} (active, health ${f.health ?? 'not probed yet'})`);
  }
  return problems.length ? `pre-reboot containers not healthy: ${problems.join(', ')}` : undefined;
}

/** Reads the facts of the wanted containers (`all`: every spec) and judges them; an edge that fails is the reason. */
export async function containersProblem(wanted: 'all' | string[], probe: ContainerProbe): Promise<string | undefined> {
  let specs: ContainerSpecFact[];
  try {
    specs = await probe.specs();
  } catch (error) {
    return `pre-reboot containers: cannot read the container specs (${(error as Error).message})`;
  }
  const byName = new Map(specs.map((s) => [s.name, s]));
  const facts: ContainerFact[] = [];
  for (const name of wanted === 'all' ? specs.map((s) => s.name) : wanted) {
    const spec = byName.get(name);
    const fact: ContainerFact = { name, spec };
    if (spec && spec.invalid === undefined) {
      try {
        fact.state = await probe.unitState(unitNameOf(name));
      } catch (error) {
        return `pre-reboot containers: cannot ask systemd about ${unitNameOf(name)} (${(error as Error).message})`;
      }
      if (spec.hasHealthCheck && fact.state.activeState === 'active') {
        const health = await probe.health(name);
        if (health !== undefined) fact.health = health;
      }
    }
    facts.push(fact);
  }
  return judgeContainers(facts);
}

/**
 * The probe of a host under `root`: one D-Bus client, connected at the first question and
 * kept (systemd-bus.ts reconnects it) until `close`; the bus is the root's system bus.
 */
export class HostContainerProbe implements ContainerProbe {
  private bus: Promise<SystemdBus> | undefined;

  constructor(
    private readonly root: string,
    private readonly address = root === '/' ? defaultSystemdAddress() : `unix:path=${join(root, 'run/dbus/system_bus_socket')}`,
  ) {}

  async specs(): Promise<ContainerSpecFact[]> {
    return (await readSpecDirectory(this.root)).map((f) => {
      const error = f.problems.find((p) => p.severity === 'error');
      const invalid = !f.spec || hasErrors(f.problems) ? (error ? formatProblem(f.path, error) : `${f.path}: not a valid spec`) : undefined;
      return { name: f.name, hasHealthCheck: f.spec?.health !== undefined, ...(invalid !== undefined && { invalid }) };
    });
  }

  async unitState(unit: string): Promise<{ activeState: string; subState: string }> {
    this.bus ??= SystemdBus.connect({ address: this.address, callTimeoutMs: 10_000 });
    let bus: SystemdBus;
    try {
      bus = await this.bus;
    } catch (error) {
      this.bus = undefined; // connect again at the next check
      throw error;
    }
    const s = await unitStateOf(bus, unit);
    return { activeState: s.activeState, subState: s.subState };
  }

  async health(name: string): Promise<string | undefined> {
    const text = await readFile(join(this.root, stateDirectory, `${name}.json`), 'utf8').catch(() => undefined);
    if (text === undefined) return undefined;
    try {
      const health = (JSON.parse(text) as Record<string, unknown> | null)?.health;
      return typeof health === 'string' ? health : undefined;
    } catch {
      return undefined; // a half-written record is never read (the supervisor writes crash-safely); anything else is not a verdict
    }
  }

  async close(): Promise<void> {
    const bus = this.bus;
    this.bus = undefined;
    await (await bus?.catch(() => undefined))?.close();
  }
}
