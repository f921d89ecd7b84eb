/**
 * What in `coreos.etcd2` / `keel.etcd` would break the member when etcd.service starts at boot.
 * etcd reads these settings only then, and on a fresh host nobody is watching its journal, so
 * the mistakes it dies of are caught here, each at the line of the flag that causes it.
 *
 * Errors are values etcd refuses outright (a URL it does not parse, half a TLS pair, https
 * without a certificate): the config is refused, as for any malformed value. Warnings are
 * settings that parse but disagree with each other (the member's name missing from
 * initial_cluster, its peer URLs not the ones the cluster lists, a loopback address advertised
 * to other hosts): the rest of the host is still set up, so an operator can log in and fix it.
 * Pure: the merged ETCD_* environment in, findings out.
 */
import type { RefineContext } from '../schema/index.js';
import type { WriteFile } from './model.js';

/** One finding, at the etcd flag (snake_case, as in the document) it is about. */
export interface EtcdFinding {
  flag: string;
  severity: 'error' | 'warning';
  message: string;
}

/** The flags that hold URL lists (etcd's `types.NewURLs` rules apply to each item). */
const urlListFlags = ['listen_client_urls', 'listen_peer_urls', 'advertise_client_urls', 'initial_advertise_peer_urls', 'listen_metrics_urls'] as const;

const urlShape = 'scheme://host:port (http, https, unix or unixs; no path)';

/** Why etcd would refuse `text` as a URL, or undefined when it accepts it. */
export function etcdUrlProblem(text: string): string | undefined {
  const m = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)(.*)$/i.exec(text.trim());
  if (!m) return 'not a URL';
  const [, scheme, authority, rest] = m;
  if (!['http', 'https', 'unix', 'unixs'].includes(scheme!.toLowerCase())) return `scheme ${scheme} is not http, https, unix or unixs`;
  const hostPort = /^(\[[^\]]+\]|[^:@\[\]]+):(\d{1,5})$/i.exec(authority!);
  if (!hostPort || Number(hostPort[2]) > 65535) return 'no host:port';
  if (rest !== '') return `a path or query ${JSON.stringify(rest)} after host:port`;
  return undefined;
}

/** The host of a URL etcd accepts, without IPv6 brackets, lowercased. */
function hostOf(url: string): string {
  const authority = /^[a-z]+:\/\/([^/?#]*)/i.exec(url.trim())?.[1] ?? '';
  return authority.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1').toLowerCase();
}

const isLoopback = (host: string) => host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);

const split = (value: string) => value.split(',').map((u) => u.trim()).filter(Boolean);

/** `name=url,name=url` → entries, or the text of the first entry that is not one. */
function clusterEntries(value: string): { entries: { name: string; url: string }[]; bad?: string } {
  const entries: { name: string; url: string }[] = [];
  for (const item of split(value)) {
    const eq = item.indexOf('=');
    if (eq <= 0) return { entries, bad: item };
    entries.push({ name: item.slice(0, eq).trim(), url: item.slice(eq + 1).trim() });
  }
  return { entries };
}

/**
 * Checks the merged etcd environment (`ETCD_*` → value). `hostname` is the config's host name:
 * Debian's etcd.service names the member after the host (`ETCD_NAME=%H`) when `name` is unset.
 */
export function checkEtcdMember(env: Record<string, string>, hostname?: string): EtcdFinding[] {
  const flag = (name: string) => env[`ETCD_${name.toUpperCase()}`];
  const out: EtcdFinding[] = [];
  const error = (f: string, message: string) => out.push({ flag: f, severity: 'error', message });
  const warn = (f: string, message: string) => out.push({ flag: f, severity: 'warning', message });

  for (const f of urlListFlags) {
    const value = flag(f);
    if (value === undefined) continue;
    for (const url of split(value)) {
      const problem = etcdUrlProblem(url);
      if (problem) error(f, `expected etcd URLs of the form ${urlShape}, found ${JSON.stringify(url)} (${problem}); etcd would fail to start`);
    }
  }
  const cluster = flag('initial_cluster') === undefined ? undefined : clusterEntries(flag('initial_cluster')!);
  if (cluster?.bad !== undefined) error('initial_cluster', `expected name=URL entries separated by commas, found ${JSON.stringify(cluster.bad)}; etcd would fail to start`);
  for (const { name, url } of cluster?.entries ?? []) {
    const problem = etcdUrlProblem(url);
    if (problem) error('initial_cluster', `member ${JSON.stringify(name)}: expected a peer URL of the form ${urlShape}, found ${JSON.stringify(url)} (${problem}); etcd would fail to start`);
  }

  checkTlsPairs(flag, error);
  checkMembership(flag, cluster?.entries ?? [], hostname, warn);
  checkDataDirs(flag, warn);
  return out;
}

type Flag = (name: string) => string | undefined;
type Report = (flag: string, message: string) => void;

/** Half a TLS pair, or an https listener without one: etcd exits at start-up. */
function checkTlsPairs(flag: Flag, error: Report): void {
  for (const [side, cert, key, urls, auto] of [
    ['client', 'cert_file', 'key_file', 'listen_client_urls', 'auto_tls'],
    ['peer', 'peer_cert_file', 'peer_key_file', 'listen_peer_urls', 'peer_auto_tls'],
  ] as const) {
    const [c, k] = [flag(cert), flag(key)];
    if (c !== undefined && k === undefined) error(cert, `${cert} is set but ${key} is not; expected both (etcd serves ${side} TLS with the pair); etcd would fail to start or serve without TLS`);
    if (k !== undefined && c === undefined) error(key, `${key} is set but ${cert} is not; expected both (etcd serves ${side} TLS with the pair); etcd would fail to start or serve without TLS`);
    const https = split(flag(urls) ?? '').find((u) => /^(https|unixs):/i.test(u));
    if (https && c === undefined && k === undefined && flag(auto) !== 'true')
      error(urls, `${https} serves ${side} TLS but neither ${cert} nor ${key} is set; expected both (or ${auto}: true); etcd would fail to start`);
  }
}

/** The member's place in a static cluster: its name listed, its peer URLs those listed, nothing advertised on loopback. */
function checkMembership(flag: Flag, entries: { name: string; url: string }[], hostname: string | undefined, warn: Report): void {
  // A v2 proxy (CoreOS workers' `proxy: on`) is no member: initial_cluster lists the members it forwards to.
  if ((flag('proxy') ?? 'off') !== 'off') return;
  const names = [...new Set(entries.map((e) => e.name))];
  const multi = names.length > 1 || flag('discovery') !== undefined || flag('discovery_srv') !== undefined;
  const name = flag('name') ?? hostname;
  const nameFlag = flag('name') !== undefined ? 'name' : 'initial_cluster';
  if (entries.length > 0 && name !== undefined && !names.includes(name)) {
    const whose = flag('name') !== undefined ? `member name ${JSON.stringify(name)}` : `member name ${JSON.stringify(name)} (the host name; name is not set)`;
    warn(nameFlag, `${whose} is not in initial_cluster (${names.join(', ')}); expected one of them; etcd will refuse to start`);
  } else if (entries.length > 0 && name !== undefined) {
    const listed = entries.filter((e) => e.name === name).map((e) => e.url).sort();
    const own = split(flag('initial_advertise_peer_urls') ?? 'http://localhost:2380').sort();
    // A `$private_ipv4` left by `keel cloud-config validate` (no metadata) is only known at boot.
    const unexpanded = [...listed, ...own].some((u) => u.includes('$'));
    if (!unexpanded && listed.join(',') !== own.join(','))
      warn(flag('initial_advertise_peer_urls') !== undefined ? 'initial_advertise_peer_urls' : 'initial_cluster',
        `initial_cluster lists ${listed.join(',')} for ${JSON.stringify(name)}, but the member advertises ${own.join(',')}${flag('initial_advertise_peer_urls') === undefined ? ' (etcd\'s default)' : ''}; expected the same URLs; etcd will refuse to start unless they resolve to the same addresses`);
  }
  if (!multi) return;
  for (const f of ['advertise_client_urls', 'initial_advertise_peer_urls']) {
    const loop = split(flag(f) ?? '').find((u) => isLoopback(hostOf(u)));
    if (loop) warn(f, `${loop} is a loopback address, advertised to the other hosts of a ${names.length > 1 ? `${names.length}-member ` : ''}cluster; expected an address they can reach; they will not reach this member there`);
  }
}

/** The TLS files etcd reads at start-up (as user etcd). */
const tlsFileFlags = ['cert_file', 'key_file', 'trusted_ca_file', 'peer_cert_file', 'peer_key_file', 'peer_trusted_ca_file'] as const;

/** Whether user `etcd` can read a file written with `owner` (`user[:group]`, default root) and `mode`; undefined for numeric ids. */
function etcdCanRead(owner: string | undefined, mode: number): boolean | undefined {
  const [user = 'root', group = user] = (owner ?? 'root').split(':');
  if ([user, group].some((x) => /^\d+$/.test(x) && x !== '0')) return undefined;
  return (mode & 0o004) !== 0 || (user === 'etcd' && (mode & 0o400) !== 0) || (group === 'etcd' && (mode & 0o040) !== 0);
}

/**
 * write_files entries that write one of etcd's TLS files so that etcd.service, which runs as
 * user etcd, cannot read it (a key left root:root 0600): etcd would exit at start-up.
 */
export function unreadableTlsFiles(env: Record<string, string>, files: readonly WriteFile[]): { index: number; message: string }[] {
  const out: { index: number; message: string }[] = [];
  for (const flag of tlsFileFlags) {
    const path = env[`ETCD_${flag.toUpperCase()}`];
    if (path === undefined) continue;
    files.forEach((f, index) => {
      if (f.path !== path || f.append || etcdCanRead(f.owner, f.permissions) !== false) return;
      const mode = f.permissions.toString(8).padStart(4, '0');
      out.push({ index, message: `${path} is etcd's ${flag}, written ${f.owner ?? 'root:root'} ${mode}, but etcd.service runs as user etcd; expected owner: etcd (or a mode etcd can read); etcd would fail to start` });
    });
  }
  return out;
}

/** Where the data lives: etcd (user etcd) can create it only in its own /var/lib/etcd, which is on the state partition. */
function checkDataDirs(flag: Flag, warn: Report): void {
  for (const f of ['data_dir', 'wal_dir']) {
    const dir = flag(f);
    if (dir !== undefined && !/^\/var\/lib\/etcd(\/|$)/.test(dir))
      warn(f, `${dir} is outside /var/lib/etcd, the one directory user etcd owns (on the state partition); expected a path under /var/lib/etcd; etcd will fail to start unless the directory exists and belongs to etcd`);
  }
}

/**
 * Reports the checks of the document's merged etcd settings at the flag's line: in `keel.etcd`
 * when it sets the flag (keel: wins), else in `coreos.etcd2`.
 */
export function reportEtcdChecks(v: Record<string, unknown>, ctx: RefineContext): void {
  const envOf = (section: unknown, key: string) => ((section as Record<string, { environment?: Record<string, string> } | undefined> | undefined)?.[key])?.environment;
  const etcd2 = envOf(v.coreos, 'etcd2');
  const keelEtcd = envOf(v.keel, 'etcd');
  if (!etcd2 && !keelEtcd) return;
  const merged = { ...etcd2, ...keelEtcd };
  const has = (env: Record<string, string> | undefined, flag: string) => env !== undefined && Object.hasOwn(env, `ETCD_${flag.toUpperCase()}`);
  for (const f of checkEtcdMember(merged, typeof v.hostname === 'string' ? v.hostname : undefined)) {
    const inKeel = has(keelEtcd, f.flag) || (!has(etcd2, f.flag) && keelEtcd !== undefined);
    ctx.at([...(inKeel ? ['keel', 'etcd'] : ['coreos', 'etcd2']), f.flag], f.severity, f.message);
  }
  // Indexes are the document's only when every entry was valid (an invalid one is left out, and is an error anyway).
  const files = (v.write_files as WriteFile[] | undefined) ?? [];
  if (files.length !== ctx.itemCount('write_files')) return;
  for (const { index, message } of unreadableTlsFiles(merged, files))
    ctx.at(['write_files', index, files[index]!.owner !== undefined ? 'owner' : 'path'], 'warning', message);
}
