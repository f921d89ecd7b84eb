// The cluster test's cloud-configs against real etcd, without qemu: each host's config goes
// through keel's validation, and its member runs as etcd.service would run it, from the
// drop-in's ETCD_* environment alone (Debian's unit passes no flags), with the TLS files the
// config writes. The three form a cluster over peer TLS with client certificates, and each
// host's keel, with no lock.conf, takes the reboot lock on its own member over client TLS.
// The hosts' addresses are 127.0.0.11-13 here (all loopback): the segment's 10.77.0.x exist
// only inside qemu guests.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { validateCloudConfig } from '../../../src/cloudconfig/validate.js';
import { etcdDropIn, memberEnvironment } from '../../../src/cloudconfig/plan-etcd.js';
import { etcdMemberDropInPath, readHostLockSettings } from '../../../src/lock/local-member.js';
import { openRebootLock } from '../../../src/lock/open-reboot-lock.js';
import { etcdBinary, type EtcdMember } from '../../harness/etcd.js';
import { killMember, waitHealthy } from '../../harness/etcd-member.js';
import { makeClusterCerts, type ClusterCerts } from '../../harness/cluster-certs.js';
import { clusterMemberConfig, clusterTls } from '../../harness/cluster-config.js';
import type { VmSegment } from '../../harness/vm-segment.js';

const segment: VmSegment = { group: '239.255.7.9', port: 41_000, subnet: '127.0.0' };
let certs: ClusterCerts;
let work: string;
const hosts: { root: string; member: EtcdMember }[] = [];

/** Writes host `i`'s files under its root as apply would (paths remapped under the root) and starts its member from the drop-in's environment. */
async function startHost(index: number): Promise<{ root: string; member: EtcdMember }> {
  const root = join(work, `keel-${index}`);
  // The client listener on the host's own address only: 127.0.0.1:2379 may be another test's.
  const text = clusterMemberConfig({ segment, certs, timings: { heartbeatMs: 50, electionMs: 500 }, etcdOverrides: { listen_client_urls: `https://127.0.0.${10 + index}:2379` } }, index);
  const { config, problems } = validateCloudConfig(text);
  // Loopback addresses in a three-member cluster: exactly the warnings a real host would not get.
  expect(problems.map((p) => `${p.severity} ${p.path}`)).toEqual(['warning keel.etcd.initial_advertise_peer_urls', 'warning keel.etcd.advertise_client_urls']);
  for (const f of config!.writeFiles.filter((w) => w.path.startsWith('/etc/etcd/'))) {
    await mkdir(join(root, dirname(f.path)), { recursive: true });
    await writeFile(join(root, f.path), f.content, { mode: f.permissions });
  }
  // The member's environment as the plan writes it (keel's defaults too: etcd refuses a flag it cannot parse).
  const env = Object.fromEntries(Object.entries(memberEnvironment(config!.etcd!.environment)).map(([k, v]) => [k, v.replaceAll('/etc/etcd/', `${root}/etc/etcd/`)]));
  await mkdir(join(root, dirname(etcdMemberDropInPath)), { recursive: true });
  await writeFile(join(root, etcdMemberDropInPath), etcdDropIn(env));
  const member: EtcdMember = { name: `keel-${index}`, clientUrl: env.ETCD_ADVERTISE_CLIENT_URLS!, peerUrl: env.ETCD_INITIAL_ADVERTISE_PEER_URLS!, dataDir: join(root, 'var/lib/etcd/default'), logFile: join(root, 'etcd.log') };
  const out = openSync(member.logFile, 'a');
  member.process = spawn(etcdBinary, [], { stdio: ['ignore', out, out], env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env, ETCD_DATA_DIR: member.dataDir } });
  closeSync(out);
  member.process.on('error', () => undefined);
  return { root, member };
}

beforeAll(async () => {
  work = await mkdtemp(join(process.env.KEEL_ETCD_TMP ?? (existsSync('/dev/shm') ? '/dev/shm' : tmpdir()), 'keel-cluster-config-'));
  certs = makeClusterCerts([1, 2, 3].map((i) => ({ name: `keel-${i}`, address: `127.0.0.${10 + i}` })));
  for (const i of [1, 2, 3]) hosts.push(await startHost(i));
  for (const { root, member } of hosts) {
    const tls = { caFile: join(root, clusterTls.ca), serverCertFile: join(root, clusterTls.cert), serverKeyFile: join(root, clusterTls.key), clientCertFile: join(root, clusterTls.cert), clientKeyFile: join(root, clusterTls.key), clientCertAuth: true };
    await waitHealthy(member, tls, 30_000);
  }
}, 60_000);

afterAll(async () => {
  for (const { member } of hosts) await killMember(member);
  if (work) await rm(work, { recursive: true, force: true });
  if (certs) await rm(certs.dir, { recursive: true, force: true });
});

test("three members from the hosts' configs form one TLS cluster, and each host's lock uses its own member", async () => {
  for (const [i, { root }] of hosts.entries()) {
    const settings = readHostLockSettings(root)!;
    expect(settings.endpoints).toEqual([`https://127.0.0.${11 + i}:2379`]);
    const lock = await openRebootLock({ ...settings, group: 'cluster' });
    try {
      // One slot, taken by host 1 and seen by the others through their own members.
      if (i === 0) await lock.acquire('keel-1', { wait: false });
      expect((await lock.status()).holders.map((h) => h.id)).toEqual(['keel-1']);
    } finally {
      await lock.close();
    }
  }
});
