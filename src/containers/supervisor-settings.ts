/**
 * The supervisor's own settings: /etc/keel/supervisor.yaml under the root (optional; the
 * cloud-config interpreter writes it from `keel.containers`), overridden by command-line
 * flags. Podman's runtime is left to containers.conf unless `podman.args` says otherwise.
 *
 * ```yaml
 * discovery: { endpoints: [http://10.0.0.1:2379], address: 10.0.0.5, ttl: 15s }
 * podman: { path: /usr/bin/podman, args: [--runtime, runc] }
 * ```
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { KeelError } from '../errors.js';
import { durationValueMs, formatDuration, longestTimerMs } from '../duration.js';
import { type LocalMember, readLocalMember } from '../lock/local-member.js';

export const settingsFile = 'etc/keel/supervisor.yaml';

export interface SupervisorSettings {
  discoveryEndpoints: string[];
  /** TLS files for the discovery endpoints: the local etcd member's when discovery uses it by default. */
  discoveryTls?: { cafile?: string; certfile?: string; keyfile?: string };
  /** Advertised address; default: the first non-loopback IPv4 address, else 127.0.0.1. */
  discoveryAddress: string | undefined;
  discoveryTtlSeconds: number;
  podmanPath: string;
  podmanArgs: string[];
}

export const defaultSettings: SupervisorSettings = { discoveryEndpoints: [], discoveryAddress: undefined, discoveryTtlSeconds: 15, podmanPath: '/usr/bin/podman', podmanArgs: [] };

const strings = (v: unknown, what: string): string[] => {
  if (v === undefined) return [];
  if (Array.isArray(v) && v.every((s) => typeof s === 'string')) return v as string[];
  throw new KeelError('invalid-input', `${settingsFile}: ${what}: expected a list of strings, found ${JSON.stringify(v)}; refusing to start`);
};

/** Parses the settings text (pure). */
export function parseSettings(text: string): SupervisorSettings {
  let doc: unknown;
  try {
    doc = parse(text) ?? {};
  } catch (error) {
    throw new KeelError('invalid-input', `${settingsFile}: ${(error as Error).message.split('\n')[0]}; refusing to start`, { cause: error });
  }
  const d = doc as { discovery?: { endpoints?: unknown; address?: unknown; ttl?: unknown }; podman?: { path?: unknown; args?: unknown } };
  // A YAML number, or a numeric string, is seconds: `ttl: 15` and `ttl: "15"` both meant 15 s before.
  const ttlMs = d.discovery?.ttl === undefined ? defaultSettings.discoveryTtlSeconds * 1000 : durationValueMs(d.discovery.ttl, { bare: 'seconds' });
  if (ttlMs === undefined || ttlMs < 2000 || ttlMs > longestTimerMs)
    throw new KeelError('invalid-input', `${settingsFile}: discovery.ttl: expected a duration from 2s to ${formatDuration(longestTimerMs)} (such as 15s or 1m), found ${JSON.stringify(d.discovery?.ttl)}; refusing to start`);
  return {
    discoveryEndpoints: strings(d.discovery?.endpoints, 'discovery.endpoints'),
    discoveryAddress: typeof d.discovery?.address === 'string' ? d.discovery.address : undefined,
    discoveryTtlSeconds: Math.round(ttlMs / 1000),
    podmanPath: typeof d.podman?.path === 'string' ? d.podman.path : defaultSettings.podmanPath,
    podmanArgs: strings(d.podman?.args, 'podman.args'),
  };
}

/** Written by cloud-config's `keel.containers` (src/cloudconfig/plan-containers.ts): `DISCOVERY_ENDPOINTS=url,url`. */
export const cloudConfigEnvFile = 'etc/keel/containers.conf';

/** The discovery endpoints of the cloud-config env file's text (pure). */
export function endpointsOfEnvFile(text: string): string[] {
  const m = /^DISCOVERY_ENDPOINTS=(.*)$/m.exec(text);
  const value = (m?.[1] ?? '').trim().replace(/^"(.*)"$/, '$1');
  return value ? value.split(',').map((e) => e.trim()).filter(Boolean) : [];
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * Discovery on the host's own etcd member when nothing names endpoints (pure): its advertised
 * client URLs and TLS files, and its advertised address as the one announced unless set.
 */
export function withLocalMemberDiscovery(settings: SupervisorSettings, member: LocalMember | undefined): SupervisorSettings {
  if (!member || settings.discoveryEndpoints.length > 0) return settings;
  const { endpoints, address, ...tls } = member;
  return { ...settings, discoveryEndpoints: endpoints, discoveryAddress: settings.discoveryAddress ?? address, ...(Object.keys(tls).length > 0 ? { discoveryTls: tls } : {}) };
}

/**
 * Reads the settings under `root`: supervisor.yaml, with containers.conf's endpoints when it
 * names none, and the local etcd member (src/lock/local-member.ts) when neither does.
 */
export async function readSettings(root: string): Promise<SupervisorSettings> {
  const yaml = await readOptional(join(root, settingsFile));
  const settings = yaml === undefined ? { ...defaultSettings } : parseSettings(yaml);
  const env = await readOptional(join(root, cloudConfigEnvFile));
  if (settings.discoveryEndpoints.length === 0 && env !== undefined) settings.discoveryEndpoints = endpointsOfEnvFile(env);
  return withLocalMemberDiscovery(settings, readLocalMember(root));
}
