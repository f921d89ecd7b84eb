/**
 * The etcd member this host runs, as every etcd client on the host reaches it by default: when
 * cloud-config configured etcd (`coreos.etcd2` / `keel.etcd`), the reboot lock, the update
 * agent's fleet records and container discovery use that member without settings of their
 * own, over TLS when it serves TLS. One place derives the connection from the applied settings
 * (the ETCD_* environment of etcd.service's cloud-config drop-in); explicit settings win:
 * lock.conf's ENDPOINTS or FLEETLOCK_URL, `--endpoints`, discovery endpoints.
 *
 * - endpoints: the member's `advertise_client_urls` (http/https only), else etcd's own default
 *   `http://localhost:2379`; TLS files are the member's own: `trusted_ca_file` verifies its
 *   certificate, `cert_file`/`key_file` are presented when it asks for a client certificate
 *   (`client_cert_auth`), so that pair needs the clientAuth usage too.
 * - address: the host of the first advertised URL when it is not loopback: the address other
 *   hosts reach this one at, which container discovery announces.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LockSettings } from './lock-settings.js';
import { readLockConf } from './lock-conf.js';
import { parseUnitFile, unitValues } from '../systemd/unit-file.js';

/** Where cloud-config writes etcd's settings (src/cloudconfig/plan-etcd.ts writes it). */
export const etcdMemberDropInPath = '/etc/systemd/system/etcd.service.d/20-cloudinit.conf';

/** How a client on this host reaches the local member. */
export interface LocalMember {
  endpoints: string[];
  cafile?: string;
  certfile?: string;
  keyfile?: string;
  /** The member's advertised host (not loopback), for announcements; undefined when none. */
  address?: string;
}

const cEscapes: Record<string, string> = { a: '\x07', b: '\b', t: '\t', n: '\n', v: '\v', f: '\f', r: '\r' };

/** One `Environment=` value as keel writes it (environmentAssignment: bare, or quoted with C escapes; `%%`). */
function assignmentOf(value: string): [string, string] | undefined {
  // systemd expands specifiers first, then unquotes; keel's writer never lets `%` and `\` meet, so the order here is free.
  const unquoted = /^"(.*)"$/s.test(value)
    ? value.slice(1, -1).replace(/\\(x[0-9a-fA-F]{2}|.)/gs, (_, c: string) => (c.length === 3 ? String.fromCharCode(parseInt(c.slice(1), 16)) : (cEscapes[c] ?? c)))
    : value;
  const text = unquoted.replace(/%%/g, '%');
  const eq = text.indexOf('=');
  return eq > 0 ? [text.slice(0, eq), text.slice(eq + 1)] : undefined;
}

/** The environment a drop-in's `[Service]` sets, later lines winning (pure). */
export function environmentOfDropIn(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const value of unitValues(parseUnitFile(text), 'Service', 'Environment')) {
    const pair = assignmentOf(value);
    if (pair) env[pair[0]] = pair[1];
  }
  return env;
}

const hostOf = (url: string) => new URL(url).hostname.replace(/^\[(.*)\]$/, '$1');
const isLoopback = (host: string) => host === 'localhost' || host === '::1' || /^127\./.test(host);

/** The connection to the member configured by `env` (ETCD_* → value), or undefined when none is (pure). */
export function localMemberOf(env: Record<string, string>): LocalMember | undefined {
  if (!Object.keys(env).some((k) => k.startsWith('ETCD_'))) return undefined;
  // A v2 proxy (`proxy: on`) serves no v3 API, which every keel client speaks.
  if ((env.ETCD_PROXY ?? 'off') !== 'off') return undefined;
  const advertised = (env.ETCD_ADVERTISE_CLIENT_URLS ?? '').split(',').map((u) => u.trim()).filter((u) => /^https?:\/\/[^/]/i.test(u) && URL.canParse(u));
  const endpoints = advertised.length > 0 ? advertised : ['http://localhost:2379'];
  const member: LocalMember = { endpoints };
  if (endpoints.some((u) => /^https:/i.test(u))) {
    if (env.ETCD_TRUSTED_CA_FILE) member.cafile = env.ETCD_TRUSTED_CA_FILE;
    if (env.ETCD_CERT_FILE && env.ETCD_KEY_FILE) {
      member.certfile = env.ETCD_CERT_FILE;
      member.keyfile = env.ETCD_KEY_FILE;
    }
  }
  const host = advertised.map(hostOf).find((h) => !isLoopback(h));
  if (host) member.address = host;
  return member;
}

/** The local member of the host under `root`, from its drop-in; undefined when cloud-config configured none. */
export function readLocalMember(root: string): LocalMember | undefined {
  let text: string;
  try {
    text = readFileSync(join(root, etcdMemberDropInPath), 'utf8');
  } catch {
    return undefined;
  }
  return localMemberOf(environmentOfDropIn(text));
}

/**
 * Lock settings with the local member filled in where they name no etcd and no FleetLock
 * server (pure): lock.conf's own TLS files, group, hold limits and windows stay.
 */
export function withLocalMember(settings: LockSettings, member: LocalMember | undefined): LockSettings {
  if (!member || settings.endpoints.length > 0 || settings.fleetlockUrl) return settings;
  const out: LockSettings = { ...settings, endpoints: member.endpoints };
  if (out.cafile === undefined && member.cafile !== undefined) out.cafile = member.cafile;
  if (out.certfile === undefined && out.keyfile === undefined && member.certfile !== undefined) {
    out.certfile = member.certfile;
    out.keyfile = member.keyfile!;
  }
  return out;
}

/**
 * The lock settings of the host under `root`: /etc/keel/lock.conf with the local member as
 * its default; undefined when neither exists (then callers fall back to locksmith's
 * http://127.0.0.1:2379).
 */
export function readHostLockSettings(root: string): LockSettings | undefined {
  const conf = readLockConf(join(root, 'etc/keel/lock.conf'), false);
  const member = readLocalMember(root);
  if (!conf && !member) return undefined;
  return withLocalMember(conf ?? { endpoints: [] }, member);
}
