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
import { formatSystemdSpan } from './duration.js';

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
}

/** Debian 12's systemd (what keel images ship), the system podman, containers.conf's runtime. */
export const defaultRenderOptions: RenderOptions = { podmanPath: '/usr/bin/podman', podmanArgs: [], systemdVersion: 252, stopTimeoutSeconds: 10 };

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

/** Escapes `%` (specifiers) and `$` (variable expansion) so systemd passes the text through. */
function literal(text: string): string {
  return text.replace(/%/g, '%%').replace(/\$/g, '$$$$');
}

/** Quotes one argv word for an Exec*= line; plain words stay bare so units read well. */
export function execWord(word: string, keepSpecifiers = false): string {
  const w = keepSpecifiers ? word : literal(word);
  if (w !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(w)) return w;
  return `"${w.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\t/g, '\\t')}"`;
}

/** The podman flags a spec becomes, after `run` and before the image. */
export function podmanRunFlags(spec: ContainerSpec): string[] {
  const flags = [`--name=${spec.name}`];
  for (const [k, v] of Object.entries(spec.environment)) flags.push('--env', `${k}=${v}`);
  for (const f of spec.environmentFiles) flags.push(`--env-file=${f}`);
  for (const p of spec.ports) flags.push(`--publish=${p.hostIp ? `${p.hostIp.includes(':') ? `[${p.hostIp}]` : p.hostIp}:` : ''}${p.hostPort}:${p.containerPort}/${p.protocol}`);
  for (const v of spec.volumes) flags.push(`--volume=${v.source}:${v.target}${v.readOnly ? ':ro' : ''}`);
  if (spec.user) flags.push(`--user=${spec.user}`);
  if (spec.readOnlyRootfs) flags.push('--read-only');
  if (spec.network) flags.push(`--network=${spec.network}`);
  // command replaces the image's entrypoint, args its CMD (Kubernetes' meaning of the two words).
  if (spec.command) flags.push(`--entrypoint=${JSON.stringify(spec.command)}`);
  return flags;
}

/** Restart= for a policy: unless-stopped differs from always only in what the supervisor does after a manual stop. */
const restartValue = { no: 'no', always: 'always', 'unless-stopped': 'always', 'on-failure': 'on-failure' } as const;

function restartLines(spec: ContainerSpec, systemdVersion: number): string[] {
  const lines = [`Restart=${restartValue[spec.restart]}`];
  if (spec.restart === 'no') return lines;
  const base = spec.restartDelaySeconds;
  const cap = spec.restartMaxDelaySeconds;
  if (systemdVersion >= 254 && cap > base) {
    const steps = Math.max(1, Math.ceil(Math.log2(cap / base)));
    lines.push(`RestartSec=${formatSystemdSpan(base)}`, `RestartSteps=${steps}`, `RestartMaxDelaySec=${formatSystemdSpan(cap)}`);
  } else if (cap > base) {
    // systemd < 254 has no RestartSteps=: the supervisor restarts after the doubling delay
    // (it restarts the unit during systemd's hold-off); systemd alone restarts at the cap.
    lines.push(`# backoff ${formatSystemdSpan(base)} doubling to ${formatSystemdSpan(cap)} is done by keel-supervisor; RestartSec= is the fallback without it`);
    lines.push(`RestartSec=${formatSystemdSpan(cap)}`);
  } else {
    lines.push(`RestartSec=${formatSystemdSpan(base)}`);
  }
  return lines;
}

/** Start limits: unlimited restarts must not trip systemd's default 5-in-10s limit; on-failure:N allows N restarts, ever. */
function startLimitLines(spec: ContainerSpec): string[] {
  if (spec.restart === 'no') return [];
  if (spec.restart === 'on-failure' && spec.maxRetries !== undefined) return ['StartLimitIntervalSec=infinity', `StartLimitBurst=${spec.maxRetries + 1}`];
  return ['StartLimitIntervalSec=0'];
}

/** The unit file text of a spec. */
export function unitFromSpec(spec: ContainerSpec, options: RenderOptions = defaultRenderOptions): string {
  const podman = [options.podmanPath, ...options.podmanArgs].map((w) => execWord(w)).join(' ');
  const cid = '--cidfile=%t/%N.cid';
  const run = [
    podman,
    'run',
    cid,
    '--replace',
    '--rm',
    '--cgroups=split',
    '--sdnotify=conmon',
    '--init',
    '--detach',
    ...podmanRunFlags(spec).map((w) => execWord(w)),
    execWord(spec.image),
    ...spec.args.map((w) => execWord(w)),
  ];
  const deps = [...new Set([...spec.after, ...spec.requires])].sort();
  const lines = [
    `# generated by keel from container spec ${JSON.stringify(spec.name)}: change the spec, not this file`,
    '[Unit]',
    `Description=${literal(`keel container ${spec.name} (${spec.image})`)}`,
    'Wants=network-online.target',
    'After=network-online.target',
    ...deps.map((d) => `After=${unitNameOf(d)}`),
    ...[...spec.requires].sort().map((d) => `Requires=${unitNameOf(d)}`),
    ...startLimitLines(spec),
    '',
    '[Service]',
    'Type=notify',
    'NotifyAccess=all',
    'Delegate=yes',
    'KillMode=mixed',
    'Environment=PODMAN_SYSTEMD_UNIT=%n',
    `SyslogIdentifier=${spec.name}`,
    // podman before 4.4 refuses a cidfile left by a container that died with its unit.
    'ExecStartPre=/bin/rm -f %t/%N.cid',
    `ExecStart=${run.join(' ')}`,
    `ExecStop=${podman} stop --ignore --time=${options.stopTimeoutSeconds} ${cid}`,
    `ExecStopPost=-${podman} rm --force --ignore ${cid}`,
    ...restartLines(spec, options.systemdVersion),
    // podman may pull or set up storage on a first start: 90 s (systemd's default) is too short on slow hosts.
    'TimeoutStartSec=5min',
    `TimeoutStopSec=${formatSystemdSpan(options.stopTimeoutSeconds + 10)}`,
    ...(spec.memory ? [`MemoryMax=${spec.memory}`] : []),
    ...(spec.cpus ? [`CPUQuota=${Math.round(spec.cpus * 100)}%`] : []),
    ...(spec.pids ? [`TasksMax=${spec.pids}`] : []),
    ...(spec.health
      ? [`# health: keel-supervisor runs ${JSON.stringify(spec.health.command)} every ${formatSystemdSpan(spec.health.intervalSeconds)} and restarts after ${spec.health.retries} failures`]
      : []),
  ];
  return lines.join('\n') + '\n';
}
