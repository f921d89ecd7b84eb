/**
 * One test etcd member as a process: its command line, its start (in its network namespace
 * when it has one), its health check and its SIGKILL (a graceful stop waits ~7 s when a
 * peer is dead). A member that does not come up fails loudly with the tail of its log.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { clientTlsOptions, memberTlsArgs, type EtcdTls } from './etcd-certs.js';

export const etcdBinary = process.env.KEEL_ETCD ?? '/usr/bin/etcd';

export interface EtcdMember {
  name: string;
  clientUrl: string;
  peerUrl: string;
  dataDir: string;
  logFile: string;
  /** The network namespace and the host-side veth, in netns mode. */
  netns?: string;
  hostVeth?: string;
  process?: ChildProcess;
}

/** What every member of one cluster shares. */
export interface MemberConfig {
  /** `name=peerUrl,…` of every member. */
  initialCluster: string;
  token: string;
  heartbeatMs: number;
  electionMs: number;
  tls?: EtcdTls;
}

const goArch: Record<string, string> = { x64: 'amd64', arm64: 'arm64', ppc64: 'ppc64le', s390x: 's390x' };

/** etcd's arguments for member `m` of a new cluster. */
export function memberArgs(m: EtcdMember, config: MemberConfig): string[] {
  return [
    `--name=${m.name}`,
    `--data-dir=${m.dataDir}`,
    `--listen-client-urls=${m.clientUrl}`,
    `--advertise-client-urls=${m.clientUrl}`,
    `--listen-peer-urls=${m.peerUrl}`,
    `--initial-advertise-peer-urls=${m.peerUrl}`,
    `--initial-cluster=${config.initialCluster}`,
    `--initial-cluster-state=new`,
    `--initial-cluster-token=${config.token}`,
    `--heartbeat-interval=${config.heartbeatMs}`,
    `--election-timeout=${config.electionMs}`,
    '--snapshot-count=100000',
    '--log-level=warn',
    '--logger=zap',
    ...memberTlsArgs(config.tls),
  ];
}

/** Starts the member's etcd, its output appended to its log file. */
export function launchMember(m: EtcdMember, config: MemberConfig): void {
  const out = openSync(m.logFile, 'a');
  const env = { ...process.env, ...(process.arch !== 'x64' ? { ETCD_UNSUPPORTED_ARCH: goArch[process.arch] ?? process.arch } : {}) };
  const [cmd, args] = m.netns ? ['ip', ['netns', 'exec', m.netns, etcdBinary, ...memberArgs(m, config)]] : [etcdBinary, memberArgs(m, config)];
  const child = spawn(cmd, args as string[], { stdio: ['ignore', out, out], env });
  closeSync(out);
  child.on('error', () => undefined);
  m.process = child;
}

/** True when the member's /health says so within 500 ms. */
export function memberHealthy(m: EtcdMember, tls: EtcdTls | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    const url = new URL('/health', m.clientUrl);
    const req = (tls ? httpsRequest : httpRequest)(url, { timeout: 500, ...clientTlsOptions(tls) }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve(res.statusCode === 200 && /"health":\s*"true"/.test(body)));
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

/** Waits until the member is healthy; throws with its log's tail if it exits or times out first. */
export async function waitHealthy(m: EtcdMember, tls: EtcdTls | undefined, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (m.process?.exitCode !== null && m.process?.exitCode !== undefined) break;
    if (await memberHealthy(m, tls)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  const log = existsSync(m.logFile) ? readFileSync(m.logFile, 'utf8').split('\n').slice(-15).join('\n') : '(no log)';
  throw new Error(`etcd member ${m.name} at ${m.clientUrl} did not become healthy (exit ${m.process?.exitCode ?? 'none'}); log tail:\n${log}`);
}

/** True while the member's process runs. */
export function memberAlive(m: EtcdMember): boolean {
  return m.process !== undefined && m.process.exitCode === null && m.process.signalCode === null;
}

/** SIGKILLs the member and waits for it to exit (nothing when it is not running). */
export async function killMember(m: EtcdMember): Promise<void> {
  const child = m.process;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGKILL');
  await exited;
}
