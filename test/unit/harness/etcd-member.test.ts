import { expect, test } from 'vitest';
import { etcdctlTlsFlags } from '../../harness/etcd-certs.js';
import { memberArgs, type EtcdMember } from '../../harness/etcd-member.js';

const member: EtcdMember = { name: 'm0', clientUrl: 'https://127.0.0.1:1', peerUrl: 'https://127.0.0.1:2', dataDir: '/d/m0', logFile: '/d/m0.log' };
const tls = { caFile: '/c/ca', serverCertFile: '/c/s.crt', serverKeyFile: '/c/s.key', clientCertFile: '/c/c.crt', clientKeyFile: '/c/c.key', clientCertAuth: false };
const config = { initialCluster: 'm0=https://127.0.0.1:2', token: 'keel-abc', heartbeatMs: 10, electionMs: 100 };

test('a member of a new cluster listens and advertises on its own URLs with the cluster token', () => {
  const args = memberArgs(member, config);
  for (const a of ['--name=m0', '--data-dir=/d/m0', '--listen-client-urls=https://127.0.0.1:1', '--initial-advertise-peer-urls=https://127.0.0.1:2',
    '--initial-cluster=m0=https://127.0.0.1:2', '--initial-cluster-state=new', '--initial-cluster-token=keel-abc', '--heartbeat-interval=10', '--election-timeout=100'])
    expect(args).toContain(a);
  expect(args.some((a) => a.includes('cert'))).toBe(false);
});

test('with TLS, peers must present certificates; clients only when clientCertAuth is set', () => {
  const args = memberArgs(member, { ...config, tls });
  expect(args).toContain('--peer-client-cert-auth');
  expect(args).toContain('--cert-file=/c/s.crt');
  expect(args).not.toContain('--client-cert-auth');
  expect(memberArgs(member, { ...config, tls: { ...tls, clientCertAuth: true } })).toContain('--client-cert-auth');
  expect(etcdctlTlsFlags(tls)).toEqual(['--cacert=/c/ca', '--cert=/c/c.crt', '--key=/c/c.key']);
  expect(etcdctlTlsFlags(undefined)).toEqual([]);
});
