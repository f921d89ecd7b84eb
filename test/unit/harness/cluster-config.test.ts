// The cluster test's cloud-configs (test/harness/cluster-config.ts) go through keel's own
// validation and plan as they will at boot: no problems, the segment address and TLS files
// before the member starts; and the bad-input case's wrong peer URL is the one warning.
import { expect, test } from 'vitest';
import { validateCloudConfig } from '../../../src/cloudconfig/validate.js';
import { planCloudConfig } from '../../../src/cloudconfig/plan.js';
import { describeOperation } from '../../../src/cloudconfig/plan-format.js';
import { clusterMemberConfig, clusterTls, type ClusterConfigOptions } from '../../harness/cluster-config.js';
import type { ClusterCerts } from '../../harness/cluster-certs.js';
import type { VmSegment } from '../../harness/vm-segment.js';

const segment: VmSegment = { group: '239.255.7.9', port: 41_000, subnet: '10.77.0' };
const pem = (what: string) => `-----BEGIN ${what}-----\nMIIB${what.length}\n-----END ${what}-----\n`;
const certs: ClusterCerts = {
  dir: '/nonexistent',
  caFile: '/nonexistent/ca.pem',
  caPem: pem('CERTIFICATE'),
  members: [1, 2, 3].map((i) => ({ name: `keel-${i}`, address: `10.77.0.${10 + i}`, certPem: pem('CERTIFICATE'), keyPem: pem('PRIVATE KEY') })),
};
const options: ClusterConfigOptions = { segment, certs, keel: { update: { reboot_strategy: 'etcd-lock', server: 'http://10.0.2.100:8080' } } };

test.each([1, 2, 3])('host %i: valid, with no problem at all', (index) => {
  const { config, problems } = validateCloudConfig(clusterMemberConfig(options, index));
  expect(problems).toEqual([]);
  expect(config!.etcd!.environment).toMatchObject({
    ETCD_NAME: `keel-${index}`,
    ETCD_INITIAL_CLUSTER: 'keel-1=https://10.77.0.11:2380,keel-2=https://10.77.0.12:2380,keel-3=https://10.77.0.13:2380',
    ETCD_ADVERTISE_CLIENT_URLS: `https://10.77.0.${10 + index}:2379`,
  });
  const key = config!.writeFiles.find((f) => f.path === clusterTls.key)!;
  expect([key.owner, key.permissions, new TextDecoder().decode(key.content)]).toEqual(['etcd:etcd', 0o600, pem('PRIVATE KEY')]);
});

test('live plan: the address and TLS files, then the member, which starts after networkd re-read its files', () => {
  const { config } = validateCloudConfig(clusterMemberConfig(options, 2));
  const plan = planCloudConfig({ userData: { kind: 'cloud-config', config: config! }, metadata: { sshPublicKeys: [] }, instanceId: 'iid-keel-2', userDataSha256: 'ef'.repeat(32), live: true });
  const lines = plan.operations.map((o) => describeOperation(o).replace(/ \d+ bytes$/, ''));
  expect(lines).toEqual([
    'set-hostname keel-2 (/etc/hostname)',
    'write-file /etc/systemd/network/20-segment.network 0644 root:root',
    'write-file /etc/etcd/tls/ca.pem 0644 root:root',
    'write-file /etc/etcd/tls/member.pem 0644 etcd:etcd',
    'write-file /etc/etcd/tls/member-key.pem 0600 etcd:etcd',
    'write-keel-config update /etc/keel/update.conf 0644 root:root',
    'write-etcd-environment /etc/systemd/system/etcd.service.d/20-cloudinit.conf 0644 root:root',
    'enable-unit etcd.service',
    'daemon-reload',
    'unit-command restart systemd-networkd.service',
    'unit-command start etcd.service (no-block)',
    'record-instance iid-keel-2',
  ]);
});

test("a host whose own peer URL is wrong: one warning at its line, and the rest of the host is still set up", () => {
  const text = clusterMemberConfig({ ...options, etcdOverrides: { initial_advertise_peer_urls: 'https://10.77.0.99:2380' } }, 3);
  const line = text.split('\n').findIndex((l) => l.includes('initial_advertise_peer_urls')) + 1;
  const { config, problems } = validateCloudConfig(text);
  expect(problems).toEqual([{
    severity: 'warning', path: 'keel.etcd.initial_advertise_peer_urls', line, column: 34,
    message: 'initial_cluster lists https://10.77.0.13:2380 for "keel-3", but the member advertises https://10.77.0.99:2380; expected the same URLs; etcd will refuse to start unless they resolve to the same addresses',
  }]);
  expect(config).toBeDefined();
});

test('a certificate for another address than the segment gives is refused', () => {
  const wrong = { ...certs, members: certs.members.map((m, i) => (i === 0 ? { ...m, address: '10.77.0.50' } : m)) };
  expect(() => clusterMemberConfig({ ...options, certs: wrong }, 1)).toThrow(/certificate is for 10.77.0.50, its segment address is 10.77.0.11/);
});
