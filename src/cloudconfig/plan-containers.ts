/**
 * `keel.containers`: each spec becomes /etc/keel/containers/<name>.yaml in the form the
 * supervisor reads (src/containers/spec-schema.ts), so `keel containers apply` and the
 * supervisor see exactly what the cloud-config said. Discovery endpoints, when set, go to
 * /etc/keel/containers.conf (`DISCOVERY_ENDPOINTS=url,url`).
 */
import { stringify } from 'yaml';
import type { ContainerSecurity, ContainerSpec } from '../containers/spec.js';
import { containerNamePattern, specDefaults } from '../containers/spec-schema.js';
import { defaultSecurity } from '../containers/security-fields.js';
import type { CloudConfig } from './model.js';
import { type PlanBuilder, bytes, generatedBy } from './plan-context.js';
import { printEnvFile } from '../systemd/env-file.js';

export const containersDir = '/etc/keel/containers';
export const containersConfPath = '/etc/keel/containers.conf';

function span(seconds: number): string {
  const ms = Math.round(seconds * 1000);
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/** A spec as the YAML document the spec schema reads back to the same spec. */
export function containerSpecYaml(s: ContainerSpec): string {
  const doc: Record<string, unknown> = { name: s.name, image: s.image };
  if (s.command) doc.command = s.command;
  if (s.args.length) doc.args = s.args;
  if (Object.keys(s.environment).length) doc.environment = s.environment;
  if (s.environmentFiles.length) doc.environment_files = s.environmentFiles;
  if (s.ports.length) doc.ports = s.ports.map((p) => `${p.hostIp ? `${p.hostIp.includes(':') ? `[${p.hostIp}]` : p.hostIp}:` : ''}${p.hostPort}:${p.containerPort}/${p.protocol}`);
  if (s.volumes.length) doc.volumes = s.volumes.map((v) => `${v.source}:${v.target}:${v.readOnly ? 'ro' : 'rw'}`);
  doc.restart = s.maxRetries !== undefined ? `${s.restart}:${s.maxRetries}` : s.restart;
  if (s.restartDelaySeconds !== specDefaults.restartDelaySeconds) doc.restart_delay = span(s.restartDelaySeconds);
  doc.restart_max_delay = span(s.restartMaxDelaySeconds);
  if (s.health) doc.health = { command: s.health.command, interval: span(s.health.intervalSeconds), timeout: span(s.health.timeoutSeconds), retries: s.health.retries };
  const resources = { ...(s.memory ? { memory: s.memory } : {}), ...(s.cpus ? { cpus: s.cpus } : {}), ...(s.pids ? { pids: s.pids } : {}) };
  if (Object.keys(resources).length) doc.resources = resources;
  if (s.after.length) doc.after = s.after;
  if (s.requires.length) doc.requires = s.requires;
  if (s.user) doc.user = s.user;
  if (!s.readOnlyRootfs) doc.read_only = false;
  if (s.network) doc.network = s.network;
  Object.assign(doc, securityKeys(s.security));
  return `# ${generatedBy('keel.containers')}\n${stringify(doc, { lineWidth: 0 })}`;
}

/** The confinement switches that differ from the defaults, as spec keys. */
function securityKeys(sec: ContainerSecurity): Record<string, unknown> {
  const d = defaultSecurity;
  const caps = sec.capabilities.join(' ') === d.capabilities.join(' ') ? {} : sec.capabilities.includes('ALL') ? { cap_add: ['ALL'] } : { cap_drop: ['ALL'], ...(sec.capabilities.length ? { cap_add: sec.capabilities } : {}) };
  return {
    ...(sec.noNewPrivileges !== d.noNewPrivileges ? { no_new_privileges: sec.noNewPrivileges } : {}),
    ...caps,
    ...(sec.userns !== d.userns ? { userns: sec.userns } : {}),
    ...(sec.seccomp !== d.seccomp ? { seccomp: sec.seccomp } : {}),
    ...(sec.apparmor !== d.apparmor ? { apparmor: sec.apparmor } : {}),
    ...(sec.privileged ? { privileged: true } : {}),
  };
}

export function planContainers(b: PlanBuilder, config: CloudConfig | undefined): void {
  const seen = new Set<string>();
  for (const [i, spec] of (config?.containers.specs ?? []).entries()) {
    if (!containerNamePattern.test(spec.name)) {
      b.refuse(`keel.containers[${i}].name: ${JSON.stringify(spec.name)} is not a container name; refusing to apply`);
      continue;
    }
    if (seen.has(spec.name)) {
      b.refuse(`keel.containers[${i}]: container ${JSON.stringify(spec.name)} is defined twice; expected each name once; refusing to apply`);
      continue;
    }
    seen.add(spec.name);
    b.add({ kind: 'write-keel-config', purpose: 'container', file: { path: `${containersDir}/${spec.name}.yaml`, content: bytes(containerSpecYaml(spec)), mode: 0o644 } });
  }
  const endpoints = config?.containers.discoveryEndpoints ?? [];
  if (endpoints.length > 0)
    b.add({
      kind: 'write-keel-config',
      purpose: 'container',
      file: { path: containersConfPath, content: bytes(printEnvFile([generatedBy('keel.containers discovery')], [['DISCOVERY_ENDPOINTS', endpoints.join(',')]])), mode: 0o644 },
    });
}
