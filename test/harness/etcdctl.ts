/** etcdctl against test etcd members: a command, and finding the leader. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { etcdctlTlsFlags, type EtcdTls } from './etcd-certs.js';
import { memberAlive, type EtcdMember } from './etcd-member.js';

const exec = promisify(execFile);
export const etcdctlBinary = process.env.KEEL_ETCDCTL ?? '/usr/bin/etcdctl';

/** Runs etcdctl (API 3) against every member's client URL with the TLS flags; returns stdout. */
export async function runEtcdctl(members: EtcdMember[], tls: EtcdTls | undefined, args: string[], extraEnv: Record<string, string> = {}): Promise<string> {
  const { stdout } = await exec(etcdctlBinary, ['--endpoints', members.map((m) => m.clientUrl).join(','), ...etcdctlTlsFlags(tls), ...args], {
    encoding: 'utf8',
    env: { ...process.env, ETCDCTL_API: '3', ...extraEnv },
  }).catch((e: { stderr?: string; message: string }) => {
    throw new Error(`etcdctl ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`);
  });
  return stdout;
}

interface EndpointStatus {
  Endpoint: string;
  Status: { header: { member_id: number | string }; leader: number | string };
}

/** The member that is leader now: asks every live member, every 100 ms for 5 s. */
export async function findLeader(members: EtcdMember[], tls: EtcdTls | undefined): Promise<EtcdMember> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const live = members.filter(memberAlive);
    const out = await exec(etcdctlBinary, ['--endpoints', live.map((m) => m.clientUrl).join(','), ...etcdctlTlsFlags(tls), '--command-timeout=1s', 'endpoint', 'status', '-w', 'json'], {
      encoding: 'utf8',
      env: { ...process.env, ETCDCTL_API: '3' },
    }).then((r) => r.stdout, (e: { stdout?: string }) => e.stdout ?? '[]');
    const statuses = JSON.parse(out || '[]') as EndpointStatus[];
    for (const s of statuses) {
      if (String(s.Status.header.member_id) === String(s.Status.leader) && s.Status.leader) {
        const m = members.find((x) => x.clientUrl === s.Endpoint);
        if (m) return m;
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('no etcd leader found after 5 s');
}
