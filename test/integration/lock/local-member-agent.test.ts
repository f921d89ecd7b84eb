// The update agent on a host whose only etcd setting is the member cloud-config configured
// (etcd.service's drop-in; no lock.conf): its reboot lock and its fleet records go to that
// member over TLS, with the member's CA and client pair, against a real etcd that requires
// client certificates.
import { rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startEtcd, type EtcdCluster } from '../../harness/etcd.js';
import { makeTestCerts } from './test-certs.js';
import { etcdDropIn } from '../../../src/cloudconfig/plan-etcd.js';
import { etcdMemberDropInPath } from '../../../src/lock/local-member.js';
import { nodeKey } from '../../../src/fleet/fleet-keys.js';
import { openAgentEtcd, type AgentEtcd } from '../../../src/update/update-lock.js';
import { updateConfigOf } from '../../../src/update/update-config.js';
import { makeHostTree } from '../update/boot-tree.js';
import { tempDir } from '../../unit/update/fixture.js';

const quiet = { error: () => undefined, warning: () => undefined, notice: () => undefined, info: () => undefined, debug: () => undefined };
let cluster: EtcdCluster;
let certs: ReturnType<typeof makeTestCerts>;
let work: string;
let agent: AgentEtcd | undefined;

beforeAll(async () => {
  certs = makeTestCerts();
  cluster = await startEtcd({ tls: certs });
  work = await tempDir('keel-local-member-');
}, 60_000);

afterAll(async () => {
  await agent?.fleet?.close(false).catch(() => undefined);
  await (await agent?.openLock())?.close().catch(() => undefined);
  await cluster?.stop();
  if (work) await rm(work, { recursive: true, force: true });
  if (certs) rmSync(certs.dir, { recursive: true, force: true });
});

test("the agent's lock and fleet records use the host's own TLS member, with no lock.conf", async () => {
  expect(cluster.endpoints[0]).toMatch(/^https:/);
  // What cloud-config writes for a member that serves client TLS and asks for client certificates.
  const dropIn = etcdDropIn({
    ETCD_NAME: 'solo',
    ETCD_ADVERTISE_CLIENT_URLS: cluster.endpoints.join(','),
    ETCD_TRUSTED_CA_FILE: certs.caFile,
    ETCD_CERT_FILE: certs.serverCertFile,
    ETCD_KEY_FILE: certs.serverKeyFile,
    ETCD_CLIENT_CERT_AUTH: 'true',
  });
  await makeHostTree(work, '1.0.0', { 'etc/machine-id': 'a1b2c3\n', [etcdMemberDropInPath.slice(1)]: dropIn });
  agent = await openAgentEtcd(work, updateConfigOf({}), quiet, { fleet: true });
  // Fleet records are published only where the agent has etcd endpoints: here, the local member's.
  expect(agent.fleet).toBeDefined();
  agent.fleet!.publish({ version: '1.0.0', slot: 'a', state: 'steady', stateSince: new Date().toISOString() });
  await agent.fleet!.flushed();
  const lock = await agent.openLock();
  await lock.acquire('a1b2c3', { wait: false });
  expect((await lock.status()).holders.map((h) => h.id)).toEqual(['a1b2c3']);
  // Read back with etcdctl's own client certificate: both are in the member.
  const record = await cluster.etcdctl(['get', '--print-value-only', nodeKey('default', 'a1b2c3')]);
  expect(JSON.parse(record)).toMatchObject({ machineId: 'a1b2c3', version: '1.0.0', state: 'steady' });
});
