/**
 * The cloud-config of host `i` of a test cluster: its name and static address on the test's
 * private segment (a networkd file from write_files, matched by MAC: vm-segment.ts), and an
 * etcd member of a static three-host cluster with client and peer TLS, whose files the same
 * config writes (owned by etcd, the key 0600). keel's clients need no etcd settings: the lock,
 * the agent's fleet records and discovery use the local member (docs/etcd.md). Pure.
 */
import { stringify } from 'yaml';
import type { ClusterCerts } from './cluster-certs.js';
import { segmentAddress, segmentNetworkFile, type VmSegment } from './vm-segment.js';

export interface ClusterConfigOptions {
  segment: VmSegment;
  certs: ClusterCerts;
  /** Raft timings: one emulated vCPU per host under TCG needs slower ones than etcd's 100/1000 ms. */
  timings?: { heartbeatMs: number; electionMs: number };
  /** More of `keel:` (update, containers, lock group…), laid over the member's. */
  keel?: Record<string, unknown>;
  /** More top-level keys (ssh_authorized_keys, users…). */
  extra?: Record<string, unknown>;
  /** Replaces one flag of this host's member: the bad-input tests' wrong peer URL. */
  etcdOverrides?: Record<string, string>;
  /** More write_files entries, after the member's (a page for a container, a trust key…). */
  files?: Record<string, unknown>[];
}

export const clusterTls = { ca: '/etc/etcd/tls/ca.pem', cert: '/etc/etcd/tls/member.pem', key: '/etc/etcd/tls/member-key.pem' };

/** `index` is 1-based, as on the segment; the members are the certs' members in order. */
export function clusterMemberConfig(options: ClusterConfigOptions, index: number): string {
  const { segment, certs } = options;
  const me = certs.members[index - 1];
  if (!me) throw new Error(`cluster host ${index}: expected 1 to ${certs.members.length}`);
  if (me.address !== segmentAddress({ segment, index })) throw new Error(`cluster host ${index}: its certificate is for ${me.address}, its segment address is ${segmentAddress({ segment, index })}`);
  const peer = (address: string) => `https://${address}:2380`;
  const timings = options.timings ?? { heartbeatMs: 200, electionMs: 2000 };
  const etcd: Record<string, string> = {
    name: me.name,
    initial_cluster: certs.members.map((m) => `${m.name}=${peer(m.address)}`).join(','),
    initial_cluster_state: 'new',
    initial_cluster_token: `keel-test-${segment.group}`,
    initial_advertise_peer_urls: peer(me.address),
    listen_peer_urls: peer(me.address),
    listen_client_urls: `https://${me.address}:2379,https://127.0.0.1:2379`,
    advertise_client_urls: `https://${me.address}:2379`,
    cert_file: clusterTls.cert,
    key_file: clusterTls.key,
    trusted_ca_file: clusterTls.ca,
    client_cert_auth: 'true',
    peer_cert_file: clusterTls.cert,
    peer_key_file: clusterTls.key,
    peer_trusted_ca_file: clusterTls.ca,
    peer_client_cert_auth: 'true',
    heartbeat_interval: String(timings.heartbeatMs),
    election_timeout: String(timings.electionMs),
    ...options.etcdOverrides,
  };
  const doc = {
    hostname: me.name,
    ...options.extra,
    write_files: [
      { path: '/etc/systemd/network/20-segment.network', content: segmentNetworkFile({ segment, index }) },
      { path: clusterTls.ca, content: certs.caPem },
      { path: clusterTls.cert, owner: 'etcd:etcd', content: me.certPem },
      { path: clusterTls.key, owner: 'etcd:etcd', permissions: '0600', content: me.keyPem },
      ...(options.files ?? []),
    ],
    keel: { etcd, ...options.keel },
  };
  return `#cloud-config\n${stringify(doc, { lineWidth: 0 })}`;
}
