// The etcd quorum check on a host that runs a member of a three-member cluster (TLS, client
// certificates required), through the agent's own edges: the member that cloud-config
// configured (etcd.service's drop-in), the cluster's member list and each member's /health.
// With a member killed, asking for a reboot slot would take the cluster below its quorum: the
// agent refuses, naming the member; once it is back, it asks again.
import { rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startEtcd, type EtcdCluster } from '../../harness/etcd.js';
import { makeTestCerts } from '../lock/test-certs.js';
import { etcdDropIn } from '../../../src/cloudconfig/plan-etcd.js';
import { etcdMemberDropInPath, readLocalMember } from '../../../src/lock/local-member.js';
import { readMemberHealth } from '../../../src/lock/etcd-member-health.js';
import { hostEnv } from '../../../src/update/agent-host.js';
import { updateConfigOf } from '../../../src/update/update-config.js';
import { makeHostTree } from './boot-tree.js';
import { tempDir } from '../../unit/update/fixture.js';

const quiet = { error: () => undefined, warning: () => undefined, notice: () => undefined, info: () => undefined, debug: () => undefined };
let cluster: EtcdCluster;
let certs: ReturnType<typeof makeTestCerts>;
let work: string;

beforeAll(async () => {
  certs = makeTestCerts();
  cluster = await startEtcd({ members: 3, tls: certs });
  work = await tempDir('keel-quorum-');
  // What cloud-config writes for member 0, which serves client TLS and asks for client certificates.
  const dropIn = etcdDropIn({
    ETCD_NAME: cluster.members[0]!.name,
    ETCD_ADVERTISE_CLIENT_URLS: cluster.members[0]!.clientUrl,
    ETCD_TRUSTED_CA_FILE: certs.caFile,
    ETCD_CERT_FILE: certs.serverCertFile,
    ETCD_KEY_FILE: certs.serverKeyFile,
    ETCD_CLIENT_CERT_AUTH: 'true',
  });
  await makeHostTree(work, '1.0.0', { [etcdMemberDropInPath.slice(1)]: dropIn });
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
  if (work) await rm(work, { recursive: true, force: true });
  if (certs) rmSync(certs.dir, { recursive: true, force: true });
});

const preReboot = (conf: Record<string, string> = {}) => hostEnv({ root: work, config: updateConfigOf(conf), log: quiet }).preReboot!();

test('the members as the local one lists them, each with its health, its own marked', async () => {
  const members = await readMemberHealth(readLocalMember(work)!);
  expect(members.map((m) => `${m.name} ${m.healthy} ${m.local}`).sort()).toEqual(cluster.members.map((m, i) => `${m.name} true ${i === 0}`).sort());
});

test('with another member down the agent does not ask for a slot, and asks again once it is back', async () => {
  expect(await preReboot()).toBeUndefined();
  const other = cluster.members[2]!;
  await cluster.kill(other);
  try {
    const refused = await preReboot();
    // 1 of 3 left; 0 while the third has no leader yet (a killed leader: its /health says false until the election ends).
    expect(refused).toMatch(/^pre-reboot etcd quorum: rebooting this host would leave [01] of 3 members, below the quorum of 2 \(.+\); waiting for them to come back$/);
    expect(refused).toContain(`${other.name}: `);
    // PRE_REBOOT_ETCD_QUORUM=off: the operator's choice to reboot anyway.
    expect(await preReboot({ PRE_REBOOT_ETCD_QUORUM: 'off' })).toBeUndefined();
  } finally {
    await cluster.restart(other);
  }
  expect(await preReboot()).toBeUndefined();
}, 60_000);

test('its own member down: the check cannot read the cluster, and refuses saying so', async () => {
  const own = cluster.members[0]!;
  await cluster.kill(own);
  try {
    // Only the local member is known to the host (its drop-in): without it, no list.
    expect(await preReboot()).toMatch(/^pre-reboot etcd quorum: cannot read the cluster's members \(the local member https:\/\/\S+ did not list the cluster: /);
  } finally {
    await cluster.restart(own);
  }
}, 60_000);
