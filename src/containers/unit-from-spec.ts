/**
 * Spec → systemd unit, as text. Pure: the same spec and options always give the same
 * bytes, so the reconciler can tell "changed" by comparing text with what is on disk.
 *
 * The unit runs `podman run -d --sdnotify=conmon`: conmon tells systemd the container is
 * up (Type=notify) and stays the main process, so systemd's supervision, logs and cgroup
 * limits are the container's. `--cgroups=split` keeps conmon and the container inside the
 * unit's cgroup, which is why MemoryMax=/CPUQuota=/TasksMax= limit the container.
 */
import type { ContainerSpec } from './spec.js';
import { formatSystemdSpan } from '../duration.js';
import { execLine, plainValue, printUnitFile, type UnitEntry, type UnitFile } from '../systemd/unit-file.js';
import { podmanSeccompProfile, securityFlags, securitySummary } from './security-flags.js';

/** What the conversion needs besides the spec; the supervisor fills it from the host. */
export interface RenderOptions {
  /** Absolute path of podman. */
  podmanPath: string;
  /** Global podman flags before `run` (e.g. `--runtime runc`); empty lets containers.conf decide. */
  podmanArgs: string[];
  /** systemd's version: 254 and later do the restart backoff themselves (RestartSteps=). */
  systemdVersion: number;
  /** Seconds `podman stop` waits before SIGKILL. */
  stopTimeoutSeconds: number;
  /** The profile `seccomp: default` names: podman's own, given explicitly so containers.conf cannot turn it off. */
  seccompProfile: string;
}

/** Debian 12's systemd (what keel images ship), the system podman, containers.conf's runtime. */
export const defaultRenderOptions: RenderOptions = { podmanPath: '/usr/bin/podman', podmanArgs: [], systemdVersion: 252, stopTimeoutSeconds: 10, seccompProfile: podmanSeccompProfile };

/** Every container's unit is `keel-container-NAME.service`; the prefix is how the supervisor finds its own. */
export const unitPrefix = 'keel-container-';

/** The unit name of a container. */
export function unitNameOf(containerName: string): string {
  return `${unitPrefix}${containerName}.service`;
}

/** The container name of a keel unit name, or undefined for any other unit. */
export function containerNameOf(unitName: string): string | undefined {
  return unitName.startsWith(unitPrefix) && unitName.endsWith('.service') ? unitName.slice(unitPrefix.length, -'.service'.length) : undefined;
}

/** The podman flags a spec becomes, after `run` and before the image. */
export function podmanRunFlags(spec: ContainerSpec, seccompDefaultPath?: string): string[] {
  const flags = [`--name=${spec.name}`, ...securityFlags(spec, seccompDefaultPath)];
  for (const [k, v] of Object.entries(spec.environment)) flags.push('--env', `${k}=${v}`);
  for (const f of spec.environmentFiles) flags.push(`--env-file=${f}`);
  for (const p of spec.ports) flags.push(`--publish=${p.hostIp ? `${p.hostIp.includes(':') ? `[${p.hostIp}]` : p.hostIp}:` : ''}${p.hostPort}:${p.containerPort}/${p.protocol}`);
  for (const v of spec.volumes) flags.push(`--volume=${v.source}:${v.target}${v.readOnly ? ':ro' : ''}`);
  if (spec.user) flags.push(`--user=${spec.user}`);
  if (spec.network) flags.push(`--network=${spec.network}`);
  // command replaces the image's entrypoint, args its CMD (Kubernetes' meaning of the two words).
  if (spec.command) flags.push(`--entrypoint=${JSON.stringify(spec.command)}`);
  return flags;
}

/** Restart= for a policy: unless-stopped differs from always only in what the supervisor does after a manual stop. */
const restartValue = { no: 'no', always: 'always', 'unless-stopped': 'always', 'on-failure': 'on-failure' } as const;

function restartEntries(spec: ContainerSpec, systemdVersion: number): UnitEntry[] {
  const entries: UnitEntry[] = [{ key: 'Restart', value: restartValue[spec.restart] }];
  if (spec.restart === 'no') return entries;
  const base = spec.restartDelaySeconds;
  const cap = spec.restartMaxDelaySeconds;
  if (systemdVersion >= 254 && cap > base) {
    const steps = Math.max(1, Math.ceil(Math.log2(cap / base)));
    entries.push(entry('RestartSec', formatSystemdSpan(base)), entry('RestartSteps', String(steps)), entry('RestartMaxDelaySec', formatSystemdSpan(cap)));
  } else if (cap > base) {
    // systemd < 254 has no RestartSteps=: the supervisor restarts after the doubling delay
    // (it restarts the unit during systemd's hold-off); systemd alone restarts at the cap.
    const comment = `backoff ${formatSystemdSpan(base)} doubling to ${formatSystemdSpan(cap)} is done by keel-supervisor; RestartSec= is the fallback without it`;
    entries.push({ ...entry('RestartSec', formatSystemdSpan(cap)), comment });
  } else {
    entries.push(entry('RestartSec', formatSystemdSpan(base)));
  }
  return entries;
}

/** Start limits: unlimited restarts must not trip systemd's default 5-in-10s limit; on-failure:N allows N restarts, ever. */
function startLimitEntries(spec: ContainerSpec): UnitEntry[] {
  if (spec.restart === 'no') return [];
  if (spec.restart === 'on-failure' && spec.maxRetries !== undefined) return [entry('StartLimitIntervalSec', 'infinity'), entry('StartLimitBurst', String(spec.maxRetries + 1))];
  return [entry('StartLimitIntervalSec', '0')];
}

function entry(key: string, value: string): UnitEntry {
  return { key, value };
}

/** The header comments: where the unit comes from, its confinement, its health check. */
function headerOf(spec: ContainerSpec): string[] {
  return [
    `generated by keel from container spec ${JSON.stringify(spec.name)}: change the spec, not this file`,
    securitySummary(spec),
    ...(spec.health ? [`health: keel-supervisor runs ${JSON.stringify(spec.health.command)} every ${formatSystemdSpan(spec.health.intervalSeconds)} and restarts after ${spec.health.retries} failures`] : []),
  ];
}

/**
 * The unit of a spec, as the shared unit model: every value from the spec reaches the
 * text through the model's encoders (plainValue, execLine), which escape or refuse what
 * systemd would read differently.
 */
export function unitModelOf(spec: ContainerSpec, options: RenderOptions = defaultRenderOptions): UnitFile {
  const podman = [options.podmanPath, ...options.podmanArgs];
  const cid = '--cidfile=%t/%N.cid';
  const keep = { keepSpecifiers: [cid] };
  const fixed = ['run', cid, '--replace', '--rm', '--cgroups=split', '--sdnotify=conmon', '--init', '--detach'];
  const run = [...podman, ...fixed, ...podmanRunFlags(spec, options.seccompProfile), spec.image, ...spec.args];
  const deps = [...new Set([...spec.after, ...spec.requires])].sort();
  const unit: UnitEntry[] = [
    entry('Description', plainValue(`keel container ${spec.name} (${spec.image})`)),
    entry('Wants', 'network-online.target'),
    entry('After', 'network-online.target'),
    ...deps.map((d) => entry('After', plainValue(unitNameOf(d)))),
    ...[...spec.requires].sort().map((d) => entry('Requires', plainValue(unitNameOf(d)))),
    ...startLimitEntries(spec),
  ];
  const service: UnitEntry[] = [
    entry('Type', 'notify'),
    entry('NotifyAccess', 'all'),
    entry('Delegate', 'yes'),
    entry('KillMode', 'mixed'),
    entry('Environment', 'PODMAN_SYSTEMD_UNIT=%n'),
    entry('SyslogIdentifier', plainValue(spec.name)),
    // podman before 4.4 refuses a cidfile left by a container that died with its unit.
    entry('ExecStartPre', '/bin/rm -f %t/%N.cid'),
    entry('ExecStart', execLine(run, keep)),
    entry('ExecStop', execLine([...podman, 'stop', '--ignore', `--time=${options.stopTimeoutSeconds}`, cid], keep)),
    entry('ExecStopPost', execLine([...podman, 'rm', '--force', '--ignore', cid], { ...keep, prefix: '-' })),
    ...restartEntries(spec, options.systemdVersion),
    // podman may pull or set up storage on a first start: 90 s (systemd's default) is too short on slow hosts.
    entry('TimeoutStartSec', '5min'),
    entry('TimeoutStopSec', formatSystemdSpan(options.stopTimeoutSeconds + 10)),
    ...(spec.memory ? [entry('MemoryMax', plainValue(spec.memory))] : []),
    ...(spec.cpus ? [entry('CPUQuota', `${Math.round(spec.cpus * 100)}%`)] : []),
    ...(spec.pids ? [entry('TasksMax', String(spec.pids))] : []),
  ];
  return { header: headerOf(spec), sections: [{ name: 'Unit', entries: unit }, { name: 'Service', entries: service }] };
}

/** The unit file text of a spec. */
export function unitFromSpec(spec: ContainerSpec, options: RenderOptions = defaultRenderOptions): string {
  return printUnitFile(unitModelOf(spec, options));
}
