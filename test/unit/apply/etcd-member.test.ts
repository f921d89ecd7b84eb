// An etcd member applied into an offline root (an installed disk before its first boot):
// the TLS files it reads, owned by the etcd user etcd.service runs as, its drop-in, and the
// links that start it at every boot. The cloud-config goes through validate and plan as at boot.
import { lstat, readFile, readlink, stat, writeFile, appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { applyFailed, applyPlan } from '../../../src/apply/apply.js';
import { planCloudConfig } from '../../../src/cloudconfig/plan.js';
import { validateCloudConfig } from '../../../src/cloudconfig/validate.js';
import { hostFor, makeRoot } from './temp-root.js';
import { noMetadata } from '../cloudconfig/plan-fixtures.js';

let root: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ root, cleanup } = await makeRoot());
  // What Debian's etcd-server leaves in the image: its system user and its (disabled) unit.
  await appendFile(join(root, 'etc/passwd'), 'etcd:x:100:105::/var/lib/etcd/:/usr/sbin/nologin\n');
  await appendFile(join(root, 'etc/group'), 'etcd:x:105:\n');
  await mkdir(join(root, 'lib/systemd/system'), { recursive: true });
  await writeFile(join(root, 'lib/systemd/system/etcd.service'), '[Service]\nType=notify\nUser=etcd\nExecStart=/usr/bin/etcd $DAEMON_ARGS\n[Install]\nWantedBy=multi-user.target\nAlias=etcd2.service\n');
});
afterEach(async () => cleanup());

const userData = `#cloud-config
hostname: keel-1
write_files:
  - path: /etc/etcd/tls/ca.pem
    content: CA
  - path: /etc/etcd/tls/member.pem
    owner: etcd:etcd
    content: CERT
  - path: /etc/etcd/tls/member-key.pem
    owner: etcd:etcd
    permissions: "0600"
    content: KEY
keel:
  etcd:
    name: keel-1
    initial_cluster: keel-1=https://10.77.0.11:2380,keel-2=https://10.77.0.12:2380,keel-3=https://10.77.0.13:2380
    initial_advertise_peer_urls: https://10.77.0.11:2380
    listen_peer_urls: https://10.77.0.11:2380
    listen_client_urls: https://10.77.0.11:2379,https://127.0.0.1:2379
    advertise_client_urls: https://10.77.0.11:2379
    cert_file: /etc/etcd/tls/member.pem
    key_file: /etc/etcd/tls/member-key.pem
    trusted_ca_file: /etc/etcd/tls/ca.pem
    client_cert_auth: true
    peer_cert_file: /etc/etcd/tls/member.pem
    peer_key_file: /etc/etcd/tls/member-key.pem
    peer_trusted_ca_file: /etc/etcd/tls/ca.pem
`;

test('a TLS member of a static cluster, applied offline', async () => {
  const { config, problems } = validateCloudConfig(userData);
  expect(problems).toEqual([]);
  const plan = planCloudConfig({ userData: { kind: 'cloud-config', config: config! }, metadata: noMetadata, instanceId: 'iid-etcd', userDataSha256: 'cd'.repeat(32), live: false });
  const report = await applyPlan(plan, hostFor(root));
  expect(applyFailed(report)).toBe(false);

  const key = await stat(join(root, 'etc/etcd/tls/member-key.pem'));
  expect([key.mode & 0o777, key.uid, key.gid]).toEqual([0o600, 100, 105]);
  expect(await readFile(join(root, 'etc/etcd/tls/member-key.pem'), 'utf8')).toBe('KEY');
  const dropIn = await readFile(join(root, 'etc/systemd/system/etcd.service.d/20-cloudinit.conf'), 'utf8');
  expect(dropIn).toContain('After=network-online.target\n');
  expect(dropIn).toContain('Restart=on-failure\n');
  expect(dropIn).toContain("Environment=ETCD_KEY_FILE=/etc/etcd/tls/member-key.pem\n");
  expect(dropIn).toContain("Environment=ETCD_INITIAL_CLUSTER=keel-1=https://10.77.0.11:2380,keel-2=https://10.77.0.12:2380,keel-3=https://10.77.0.13:2380\n");
  // Started at every boot by multi-user.target (the image ships it disabled).
  expect(await readlink(join(root, 'etc/systemd/system/multi-user.target.wants/etcd.service'))).toBe('/lib/systemd/system/etcd.service');
  // Nothing to run at first boot for it: the enabled unit is enough.
  await expect(lstat(join(root, 'etc/systemd/system/keel-firstboot.service'))).rejects.toThrow(/ENOENT/);
});
