// The etcd member checks (src/cloudconfig/etcd-checks.ts): each cluster-breaking mistake in a
// fixture under test/fixtures/etcd, with the exact problems it must produce, in order.
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { validateCloudConfig } from '../../../src/cloudconfig/validate.js';
import { checkEtcdMember, etcdUrlProblem } from '../../../src/cloudconfig/etcd-checks.js';

type Expect = [severity: 'error' | 'warning', path: string, line: number, column: number, message: string];

const fixture = (name: string) => readFileSync(new URL(`../../fixtures/etcd/${name}`, import.meta.url), 'utf8');
const urlShape = 'scheme://host:port (http, https, unix or unixs; no path)';

const cases: [file: string, expected: Expect[]][] = [
  ['member-tls.yaml', []],
  ['single-loopback.yaml', []],
  ['name-not-in-cluster.yaml', [['warning', 'keel.etcd.name', 4, 11, 'member name "keel-4" is not in initial_cluster (keel-1, keel-2); expected one of them; etcd will refuse to start']]],
  ['hostname-not-in-cluster.yaml', [['warning', 'keel.etcd.initial_cluster', 5, 22, 'member name "web-1" (the host name; name is not set) is not in initial_cluster (keel-1, keel-2); expected one of them; etcd will refuse to start']]],
  ['bad-urls.yaml', [
    ['error', 'coreos.etcd2.initial_cluster', 5, 22, `member "b": expected a peer URL of the form ${urlShape}, found "10.77.0.12:2380" (not a URL); etcd would fail to start`],
    ['error', 'coreos.etcd2.listen_client_urls', 7, 25, `expected etcd URLs of the form ${urlShape}, found "http://10.77.0.11" (no host:port); etcd would fail to start`],
    ['error', 'coreos.etcd2.advertise_client_urls', 8, 28, `expected etcd URLs of the form ${urlShape}, found "http://10.77.0.11:2379/v2" (a path or query "/v2" after host:port); etcd would fail to start`],
    ['error', 'coreos.etcd2.listen_peer_urls', 9, 23, `expected etcd URLs of the form ${urlShape}, found "http://[::1:2380" (no host:port); etcd would fail to start`],
  ]],
  ['tls-halves.yaml', [
    ['error', 'keel.etcd.cert_file', 4, 16, 'cert_file is set but key_file is not; expected both (etcd serves client TLS with the pair); etcd would fail to start or serve without TLS'],
    ['error', 'keel.etcd.peer_key_file', 5, 20, 'peer_key_file is set but peer_cert_file is not; expected both (etcd serves peer TLS with the pair); etcd would fail to start or serve without TLS'],
  ]],
  ['https-without-cert.yaml', [['error', 'keel.etcd.listen_client_urls', 4, 25, 'https://10.77.0.11:2379 serves client TLS but neither cert_file nor key_file is set; expected both (or auto_tls: true); etcd would fail to start']]],
  ['loopback-advertise.yaml', [
    ['warning', 'keel.etcd.initial_advertise_peer_urls', 6, 34, 'http://127.0.0.1:2380 is a loopback address, advertised to the other hosts of a 3-member cluster; expected an address they can reach; they will not reach this member there'],
    ['warning', 'keel.etcd.advertise_client_urls', 7, 28, 'http://localhost:2379 is a loopback address, advertised to the other hosts of a 3-member cluster; expected an address they can reach; they will not reach this member there'],
  ]],
  // coreos.etcd2 and keel.etcd merge: each problem is reported in the section that set the flag.
  ['peer-url-mismatch.yaml', [
    ['warning', 'coreos.etcd2.initial_advertise_peer_urls', 6, 34, 'initial_cluster lists http://10.77.0.11:2380 for "a", but the member advertises http://10.77.0.21:2380; expected the same URLs; etcd will refuse to start unless they resolve to the same addresses'],
    ['error', 'keel.etcd.cert_file', 9, 16, 'cert_file is set but key_file is not; expected both (etcd serves client TLS with the pair); etcd would fail to start or serve without TLS'],
  ]],
  // etcd.service runs as user etcd: a TLS file it cannot read stops it at start-up.
  ['tls-key-unreadable.yaml', [
    ['warning', 'write_files[2].path', 9, 11, "/etc/etcd/member-key.pem is etcd's key_file, written root:root 0600, but etcd.service runs as user etcd; expected owner: etcd (or a mode etcd can read); etcd would fail to start"],
    ['warning', 'write_files[4].owner', 17, 12, "/etc/etcd/peer.pem is etcd's peer_cert_file, written root:wheel 0640, but etcd.service runs as user etcd; expected owner: etcd (or a mode etcd can read); etcd would fail to start"],
  ]],
  // Hostile input: a line break would have ended the drop-in's Environment= line (it no longer can: plan-etcd.test.ts).
  ['line-break-injection.yaml', [['error', 'keel.etcd.name', 5, 11, 'expected a value on one line without control characters, found "keel-1\\n[Service]\\nExecStartPre=/bin/touch /tmp/owned\\n"; refusing to write it into etcd\'s unit']]],
  ['data-dir-outside.yaml', [['warning', 'keel.etcd.wal_dir', 5, 14, '/srv/etcd-wal is outside /var/lib/etcd, the one directory user etcd owns (on the state partition); expected a path under /var/lib/etcd; etcd will fail to start unless the directory exists and belongs to etcd']]],
];

describe('etcd member validation, at line and column', () => {
  test.each(cases)('%s', (file, expected) => {
    const { config, problems } = validateCloudConfig(fixture(file));
    expect(problems.map((p) => [p.severity, p.path, p.line, p.column, p.message])).toEqual(expected);
    // Errors refuse the config; warnings leave the rest of the host to be set up.
    expect(config === undefined).toBe(expected.some((e) => e[0] === 'error'));
  });
});

describe('etcdUrlProblem follows etcd’s URL rules (types.NewURLs)', () => {
  test.each([
    ['http://10.0.0.1:2379', undefined],
    ['https://[fd00::1]:2379', undefined],
    ['unix://localhost:2379', undefined],
    [' http://a:1 ', undefined],
    ['10.0.0.1:2379', 'not a URL'],
    ['ftp://a:1', 'scheme ftp is not http, https, unix or unixs'],
    ['http://a', 'no host:port'],
    ['http://a:99999', 'no host:port'],
    ['http://a:1/', 'a path or query "/" after host:port'],
    ['http://:1', 'no host:port'],
  ])('%s', (url, problem) => {
    expect(etcdUrlProblem(url)).toBe(problem);
  });
});

describe('checkEtcdMember', () => {
  test('an unnamed member without a host name is not guessed at', () => {
    expect(checkEtcdMember({ ETCD_INITIAL_CLUSTER: 'a=http://10.0.0.1:2380,b=http://10.0.0.2:2380' })).toEqual([]);
  });

  test('an entry without a name is refused', () => {
    expect(checkEtcdMember({ ETCD_INITIAL_CLUSTER: 'a=http://10.0.0.1:2380,http://10.0.0.2:2380' })).toEqual([
      { flag: 'initial_cluster', severity: 'error', message: 'expected name=URL entries separated by commas, found "http://10.0.0.2:2380"; etcd would fail to start' },
    ]);
  });

  test("without initial_advertise_peer_urls the member advertises etcd's default, which a multi-member cluster does not list", () => {
    expect(checkEtcdMember({ ETCD_NAME: 'a', ETCD_INITIAL_CLUSTER: 'a=http://10.0.0.1:2380,b=http://10.0.0.2:2380' })).toEqual([
      { flag: 'initial_cluster', severity: 'warning', message: "initial_cluster lists http://10.0.0.1:2380 for \"a\", but the member advertises http://localhost:2380 (etcd's default); expected the same URLs; etcd will refuse to start unless they resolve to the same addresses" },
    ]);
  });

  test('a loopback advertise URL is fine when discovery is off and the cluster has one member', () => {
    expect(checkEtcdMember({ ETCD_ADVERTISE_CLIENT_URLS: 'http://127.0.0.1:2379' })).toEqual([]);
  });

  test('with discovery the cluster has other hosts, so loopback is reported', () => {
    expect(checkEtcdMember({ ETCD_DISCOVERY: 'https://discovery.example/x', ETCD_ADVERTISE_CLIENT_URLS: 'http://[::1]:2379' })).toEqual([
      { flag: 'advertise_client_urls', severity: 'warning', message: 'http://[::1]:2379 is a loopback address, advertised to the other hosts of a cluster; expected an address they can reach; they will not reach this member there' },
    ]);
  });

  test("a v2 proxy (CoreOS workers' proxy: on) is not a member: its name need not be in initial_cluster", () => {
    expect(checkEtcdMember({ ETCD_PROXY: 'on', ETCD_INITIAL_CLUSTER: 'a=http://10.0.0.1:2380,b=http://10.0.0.2:2380' }, 'worker-7')).toEqual([]);
    expect(checkEtcdMember({ ETCD_PROXY: 'off', ETCD_INITIAL_CLUSTER: 'a=http://10.0.0.1:2380' }, 'worker-7')).toHaveLength(1);
  });

  test('auto_tls stands in for the certificate pair', () => {
    expect(checkEtcdMember({ ETCD_LISTEN_CLIENT_URLS: 'https://10.0.0.1:2379', ETCD_AUTO_TLS: 'true' })).toEqual([]);
  });
});

describe('settings with metadata variables', () => {
  test('a $private_ipv4 not yet substituted (validate without metadata) is neither a bad URL nor a mismatch', () => {
    expect(checkEtcdMember({
      ETCD_NAME: 'a',
      ETCD_INITIAL_CLUSTER: 'a=http://10.0.0.1:2380,b=http://10.0.0.2:2380',
      ETCD_INITIAL_ADVERTISE_PEER_URLS: 'http://$private_ipv4:2380',
      ETCD_ADVERTISE_CLIENT_URLS: 'http://[$private_ipv6]:2379',
    })).toEqual([]);
  });
});
