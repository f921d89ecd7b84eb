/**
 * Real etcd members for tests (Debian's etcd-server, /usr/bin/etcd): one member, or a
 * three-member cluster on loopback ports, or three members each in its own network
 * namespace joined by a bridge so a test can cut one off. Members are stopped with
 * SIGKILL; data dirs live in a temp dir; namespaces and the bridge are deleted by `stop()`.
 * A member that does not come up fails loudly with the tail of its log: tests never skip
 * because etcd is missing. The member process is in etcd-member.ts, the namespaces in
 * etcd-netns.ts, TLS in etcd-certs.ts, etcdctl in etcdctl.ts.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EtcdTls } from './etcd-certs.js';
import { etcdBinary, killMember, launchMember, waitHealthy, type EtcdMember, type MemberConfig } from './etcd-member.js';
import { EtcdNetwork, heal, partition } from './etcd-netns.js';
import { findLeader, runEtcdctl } from './etcdctl.js';
import { freePort } from './free-port.js';

export type { EtcdTls } from './etcd-certs.js';
export { etcdBinary, type EtcdMember } from './etcd-member.js';
export { etcdctlBinary } from './etcdctl.js';
export { freePort } from './free-port.js';

export interface EtcdOptions {
  members?: 1 | 3;
  /** Put each member in its own network namespace on a test-made bridge (needs root). */
  netns?: boolean;
  tls?: EtcdTls;
  /** Raft timings; default 10/100 ms (one member) or 20/200 ms (three): fast elections for the fault tests. */
  timings?: { heartbeatMs: number; electionMs: number };
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

/** Starts etcd members and waits until each answers /health; throws with the member's log otherwise. */
export async function startEtcd(options: EtcdOptions = {}): Promise<EtcdCluster> {
  const count = options.members ?? 1;
  // Data dirs on tmpfs when there is one: etcd fsyncs every write, and a loaded disk would
  // make the tests measure the disk instead of the lock.
  const root = mkdtempSync(join(process.env.KEEL_ETCD_TMP ?? (existsSync('/dev/shm') ? '/dev/shm' : tmpdir()), 'keel-etcd-'));
  const tag = randomBytes(3).toString('hex');
  const net = options.netns ? new EtcdNetwork(tag) : undefined;
  let members: EtcdMember[];
  try {
    await net?.createBridge();
    members = await placeMembers(count, root, options.tls ? 'https' : 'http', net);
  } catch (error) {
    await net?.remove();
    rmSync(root, { recursive: true, force: true });
    throw error;
  }
  const [heartbeatMs, electionMs] = options.timings ? [options.timings.heartbeatMs, options.timings.electionMs] : count === 1 ? [10, 100] : [20, 200];
  const config: MemberConfig = {
    initialCluster: members.map((m) => `${m.name}=${m.peerUrl}`).join(','),
    token: `keel-${tag}`,
    heartbeatMs,
    electionMs,
    tls: options.tls,
  };
  const cluster = clusterOf(members, config, root, net);
  try {
    if (!existsSync(etcdBinary)) throw new Error(`${etcdBinary} not found: install etcd-server (deps/lock.apt, make deps)`);
    for (const m of members) launchMember(m, config);
    await Promise.all(members.map((m) => waitHealthy(m, options.tls)));
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster;
}

/** Names, data dirs and URLs of the members: free loopback ports, or 2379/2380 in a namespace each. */
async function placeMembers(count: number, root: string, scheme: string, net: EtcdNetwork | undefined): Promise<EtcdMember[]> {
  const members: EtcdMember[] = [];
  for (let i = 0; i < count; i++) {
    const name = `m${i}`;
    const member: EtcdMember = { name, dataDir: join(root, name), logFile: join(root, `${name}.log`), clientUrl: '', peerUrl: '' };
    let host = '127.0.0.1';
    let clientPort = await freePort();
    let peerPort = await freePort();
    if (net) {
      host = await net.addMember(i, member);
      clientPort = 2379;
      peerPort = 2380;
    }
    member.clientUrl = `${scheme}://${host}:${clientPort}`;
    member.peerUrl = `${scheme}://${host}:${peerPort}`;
    members.push(member);
  }
  return members;
}

/** The cluster's handle; the members, namespaces and data dirs go with the test process if it ends without `stop()`. */
function clusterOf(members: EtcdMember[], config: MemberConfig, root: string, net: EtcdNetwork | undefined): EtcdCluster {
  let stopped = false;
  // A killed vitest worker or an uncaught error: take the members and namespaces with it.
  const onExit = () => {
    for (const m of members) if (m.process && m.process.exitCode === null) m.process.kill('SIGKILL');
    net?.removeSync();
    rmSync(root, { recursive: true, force: true });
  };
  process.once('exit', onExit);
  return {
    members,
    endpoints: members.map((m) => m.clientUrl),
    ...(config.tls ? { tls: config.tls } : {}),
    leader: () => findLeader(members, config.tls),
    kill: killMember,
    async restart(m) {
      await killMember(m);
      launchMember(m, config);
      await waitHealthy(m, config.tls);
    },
    partition,
    heal,
    etcdctl: (args, extraEnv = {}) => runEtcdctl(members, config.tls, args, extraEnv),
    async stop() {
      if (stopped) return;
      stopped = true;
      process.off('exit', onExit);
      await Promise.all(members.map(killMember));
      await net?.remove();
      rmSync(root, { recursive: true, force: true });
    },
  };
}
