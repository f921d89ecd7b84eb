/**
 * Real etcd members for tests (Debian's etcd-server, /usr/bin/etcd): one member, or a
 * three-member cluster on loopback ports, or three members each in its own network
 * namespace joined by a bridge so a test can cut one off. Members are stopped with
 * SIGKILL (a graceful stop waits ~7 s when a peer is dead); data dirs live in a temp dir;
 * namespaces and the bridge are deleted by `stop()`. A member that does not come up fails
 * loudly with the tail of its log: tests never skip because etcd is missing.
 */
import { spawn, execFile, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync, closeSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';

const exec = promisify(execFile);
export const etcdBinary = process.env.KEEL_ETCD ?? '/usr/bin/etcd';
export const etcdctlBinary = process.env.KEEL_ETCDCTL ?? '/usr/bin/etcdctl';

/** TLS files for the members (server cert for clients and peers) and for etcdctl/the client. */
export interface EtcdTls {
  caFile: string;
  serverCertFile: string;
  serverKeyFile: string;
  clientCertFile: string;
  clientKeyFile: string;
  /** Require client certificates (`--client-cert-auth`). */
  clientCertAuth: boolean;
}

export interface EtcdOptions {
  members?: 1 | 3;
  /** Put each member in its own network namespace on a test-made bridge (needs root). */
  netns?: boolean;
  tls?: EtcdTls;
}

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

/** A running member set. Every method fails loudly; `stop()` is safe to call twice. */
export interface EtcdCluster {
  members: EtcdMember[];
  /** Client URLs of every member, for `--endpoints` and the etcd3 client. */
  endpoints: string[];
  tls?: EtcdTls;
  /** The member that is leader now (asks every live member). */
  leader(): Promise<EtcdMember>;
  /** SIGKILLs a member and waits for it to exit. */
  kill(member: EtcdMember): Promise<void>;
  /** Starts a killed member again on its data dir and waits until it is healthy. */
  restart(member: EtcdMember): Promise<void>;
  /** netns mode: takes the member's link down (cut off from peers and clients) / up again. */
  partition(member: EtcdMember): Promise<void>;
  heal(member: EtcdMember): Promise<void>;
  /** Runs etcdctl against the cluster (TLS flags added) and returns stdout. */
  etcdctl(args: string[], extraEnv?: Record<string, string>): Promise<string>;
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (bound, read, released). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function run(cmd: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await exec(cmd, args, { encoding: 'utf8' });
    return stdout;
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`, { cause: error });
  }
}

const goArch: Record<string, string> = { x64: 'amd64', arm64: 'arm64', ppc64: 'ppc64le', s390x: 's390x' };

/** Starts etcd members and waits until each answers /health; throws with the member's log otherwise. */
export async function startEtcd(options: EtcdOptions = {}): Promise<EtcdCluster> {
  const count = options.members ?? 1;
  const scheme = options.tls ? 'https' : 'http';
  // Data dirs on tmpfs when there is one: etcd fsyncs every write, and a loaded disk would
  // make the tests measure the disk instead of the lock.
  const root = mkdtempSync(join(process.env.KEEL_ETCD_TMP ?? (existsSync('/dev/shm') ? '/dev/shm' : tmpdir()), 'keel-etcd-'));
  const tag = randomBytes(3).toString('hex');
  const members: EtcdMember[] = [];
  const created = { netns: [] as string[], bridge: undefined as string | undefined };
  let subnet = '';

  const cleanupNet = async () => {
    for (const ns of created.netns) await run('ip', ['netns', 'del', ns]).catch(() => undefined);
    if (created.bridge) await run('ip', ['link', 'del', created.bridge]).catch(() => undefined);
    created.netns = [];
    created.bridge = undefined;
  };

  try {
    if (options.netns) {
      subnet = `10.${200 + (randomBytes(1)[0]! % 50)}.${randomBytes(1)[0]! % 250}`;
      created.bridge = `kbr${tag}`;
      await run('ip', ['link', 'add', created.bridge, 'type', 'bridge']);
      await run('ip', ['addr', 'add', `${subnet}.1/24`, 'dev', created.bridge]);
      await run('ip', ['link', 'set', created.bridge, 'up']);
    }
    for (let i = 0; i < count; i++) {
      const name = `m${i}`;
      const dataDir = join(root, name);
      let host = '127.0.0.1';
      let clientPort = await freePort();
      let peerPort = await freePort();
      const member: EtcdMember = { name, dataDir, logFile: join(root, `${name}.log`), clientUrl: '', peerUrl: '' };
      if (options.netns) {
        const ns = `kns${tag}${i}`;
        const hostVeth = `kvh${tag}${i}`;
        await run('ip', ['netns', 'add', ns]);
        created.netns.push(ns);
        await run('ip', ['link', 'add', hostVeth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
        await run('ip', ['link', 'set', hostVeth, 'master', created.bridge!, 'up']);
        host = `${subnet}.${i + 2}`;
        await run('ip', ['-n', ns, 'addr', 'add', `${host}/24`, 'dev', 'eth0']);
        await run('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
        await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
        clientPort = 2379;
        peerPort = 2380;
        member.netns = ns;
        member.hostVeth = hostVeth;
      }
      member.clientUrl = `${scheme}://${host}:${clientPort}`;
      member.peerUrl = `${scheme}://${host}:${peerPort}`;
      members.push(member);
    }
  } catch (error) {
    await cleanupNet();
    rmSync(root, { recursive: true, force: true });
    throw error;
  }

  const initialCluster = members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
  const [heartbeat, election] = count === 1 ? [10, 100] : [20, 200];

  const argsOf = (m: EtcdMember): string[] => {
    const args = [
      `--name=${m.name}`,
      `--data-dir=${m.dataDir}`,
      `--listen-client-urls=${m.clientUrl}`,
      `--advertise-client-urls=${m.clientUrl}`,
      `--listen-peer-urls=${m.peerUrl}`,
      `--initial-advertise-peer-urls=${m.peerUrl}`,
      `--initial-cluster=${initialCluster}`,
      `--initial-cluster-state=new`,
      `--initial-cluster-token=keel-${tag}`,
      `--heartbeat-interval=${heartbeat}`,
      `--election-timeout=${election}`,
      '--snapshot-count=100000',
      '--log-level=warn',
      '--logger=zap',
    ];
    const tls = options.tls;
    if (tls) {
      args.push(`--cert-file=${tls.serverCertFile}`, `--key-file=${tls.serverKeyFile}`, `--trusted-ca-file=${tls.caFile}`);
      args.push(`--peer-cert-file=${tls.serverCertFile}`, `--peer-key-file=${tls.serverKeyFile}`, `--peer-trusted-ca-file=${tls.caFile}`, '--peer-client-cert-auth');
      if (tls.clientCertAuth) args.push('--client-cert-auth');
    }
    return args;
  };

  const launch = (m: EtcdMember) => {
    const out = openSync(m.logFile, 'a');
    const env = { ...process.env, ...(process.arch !== 'x64' ? { ETCD_UNSUPPORTED_ARCH: goArch[process.arch] ?? process.arch } : {}) };
    const [cmd, args] = m.netns ? ['ip', ['netns', 'exec', m.netns, etcdBinary, ...argsOf(m)]] : [etcdBinary, argsOf(m)];
    const child = spawn(cmd, args as string[], { stdio: ['ignore', out, out], env });
    closeSync(out);
    child.on('error', () => undefined);
    m.process = child;
  };

  const healthy = (m: EtcdMember): Promise<boolean> =>
    new Promise((resolve) => {
      const tls = options.tls;
      const url = new URL('/health', m.clientUrl);
      const opts = {
        timeout: 500,
        ...(tls ? { ca: readFileSync(tls.caFile), cert: readFileSync(tls.clientCertFile), key: readFileSync(tls.clientKeyFile) } : {}),
      };
      const req = (tls ? httpsRequest : httpRequest)(url, opts, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve(res.statusCode === 200 && /"health":\s*"true"/.test(body)));
      });
      req.on('error', () => resolve(false));
      req.on('timeout', () => req.destroy());
      req.end();
    });

  const waitHealthy = async (m: EtcdMember, timeoutMs = 20_000) => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (m.process?.exitCode !== null && m.process?.exitCode !== undefined) break;
      if (await healthy(m)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    const log = existsSync(m.logFile) ? readFileSync(m.logFile, 'utf8').split('\n').slice(-15).join('\n') : '(no log)';
    throw new Error(`etcd member ${m.name} at ${m.clientUrl} did not become healthy (exit ${m.process?.exitCode ?? 'none'}); log tail:\n${log}`);
  };

  const killMember = async (m: EtcdMember) => {
    const child = m.process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGKILL');
    await exited;
  };

  const ctlFlags = (): string[] => {
    const tls = options.tls;
    return tls ? [`--cacert=${tls.caFile}`, `--cert=${tls.clientCertFile}`, `--key=${tls.clientKeyFile}`] : [];
  };

  let stopped = false;
  // If the test process ends without stop() (a killed vitest worker, an uncaught error),
  // take the members and the namespaces with it rather than leave them running.
  const onExit = () => {
    for (const m of members) if (m.process && m.process.exitCode === null) m.process.kill('SIGKILL');
    for (const ns of created.netns) {
      try {
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
      } catch {
        // already gone
      }
    }
    if (created.bridge) {
      try {
        execFileSync('ip', ['link', 'del', created.bridge], { stdio: 'ignore' });
      } catch {
        // already gone
      }
    }
    rmSync(root, { recursive: true, force: true });
  };
  process.once('exit', onExit);
  const cluster: EtcdCluster = {
    members,
    endpoints: members.map((m) => m.clientUrl),
    ...(options.tls ? { tls: options.tls } : {}),
    async leader() {
      for (let attempt = 0; attempt < 50; attempt++) {
        const live = members.filter((m) => m.process && m.process.exitCode === null && m.process.signalCode === null);
        const out = await exec(etcdctlBinary, ['--endpoints', live.map((m) => m.clientUrl).join(','), ...ctlFlags(), '--command-timeout=1s', 'endpoint', 'status', '-w', 'json'], {
          encoding: 'utf8',
          env: { ...process.env, ETCDCTL_API: '3' },
        }).then((r) => r.stdout, (e: { stdout?: string }) => e.stdout ?? '[]');
        const statuses = JSON.parse(out || '[]') as { Endpoint: string; Status: { header: { member_id: number | string }; leader: number | string } }[];
        for (const s of statuses) {
          if (String(s.Status.header.member_id) === String(s.Status.leader) && s.Status.leader) {
            const m = members.find((x) => x.clientUrl === s.Endpoint);
            if (m) return m;
          }
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error('no etcd leader found after 5 s');
    },
    kill: killMember,
    async restart(m) {
      await killMember(m);
      launch(m);
      await waitHealthy(m);
    },
    async partition(m) {
      if (!m.hostVeth) throw new Error('partition needs a cluster started with netns: true');
      await run('ip', ['link', 'set', m.hostVeth, 'down']);
    },
    async heal(m) {
      if (!m.hostVeth) throw new Error('heal needs a cluster started with netns: true');
      await run('ip', ['link', 'set', m.hostVeth, 'up']);
    },
    async etcdctl(args, extraEnv = {}) {
      const { stdout } = await exec(etcdctlBinary, ['--endpoints', members.map((m) => m.clientUrl).join(','), ...ctlFlags(), ...args], {
        encoding: 'utf8',
        env: { ...process.env, ETCDCTL_API: '3', ...extraEnv },
      }).catch((e: { stderr?: string; message: string }) => {
        throw new Error(`etcdctl ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`);
      });
      return stdout;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      process.off('exit', onExit);
      await Promise.all(members.map(killMember));
      await cleanupNet();
      rmSync(root, { recursive: true, force: true });
    },
  };

  try {
    if (!existsSync(etcdBinary)) throw new Error(`${etcdBinary} not found: install etcd-server (deps/lock.apt, make deps)`);
    members.forEach(launch);
    await Promise.all(members.map((m) => waitHealthy(m)));
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster;
}
