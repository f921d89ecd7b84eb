// etcd on a keel host from cloud-config, live: `keel cloud-config apply` inside a guest whose
// PID 1 is a real systemd, with Debian's etcd.service (the host's etcd binary bound in) and the
// member's TLS files written by the same config. Then the member is every client's default:
// `keel lock status` and `keel containers endpoints` reach it over TLS with no settings of their own.
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { SystemdBus } from '../../src/host/systemd-bus.js';
import { bootSystemd, type BootedSystemd } from '../harness/systemd-ns.js';
import { repoRoot } from '../harness/rootfs.js';
import { etcdBinary, freePort } from '../harness/etcd.js';
import { makeTestCerts } from './lock/test-certs.js';

const debianUnit = readFileSync('/lib/systemd/system/etcd.service', 'utf8').replace('ExecStart=/usr/bin/etcd', 'ExecStart=/usr/local/bin/etcd');
const keel = '/opt/keel/bin/keel';
const indent = (text: string) => text.trimEnd().split('\n').map((l) => `      ${l}`).join('\n');

/** A member's cloud-config: the etcd user, its TLS files (owned by etcd), and its flags. */
function memberConfig(certs: ReturnType<typeof makeTestCerts>, flags: Record<string, string>): string {
  const file = (p: string, source: string, extra = '') => `  - path: ${p}\n${extra}    content: |\n${indent(readFileSync(source, 'utf8'))}\n`;
  return [
    '#cloud-config',
    'users:',
    '  - name: etcd',
    '    system: true',
    '    homedir: /var/lib/etcd',
    '    shell: /usr/sbin/nologin',
    'write_files:',
    file('/etc/etcd/tls/ca.pem', certs.caFile) + file('/etc/etcd/tls/member.pem', certs.serverCertFile, '    owner: etcd\n') + file('/etc/etcd/tls/member-key.pem', certs.serverKeyFile, '    owner: etcd\n    permissions: "0600"\n'),
    'keel:',
    '  etcd:',
    ...Object.entries({
      cert_file: '/etc/etcd/tls/member.pem', key_file: '/etc/etcd/tls/member-key.pem', trusted_ca_file: '/etc/etcd/tls/ca.pem', client_cert_auth: 'true',
      peer_cert_file: '/etc/etcd/tls/member.pem', peer_key_file: '/etc/etcd/tls/member-key.pem', peer_trusted_ca_file: '/etc/etcd/tls/ca.pem', peer_client_cert_auth: 'true',
      heartbeat_interval: '10', election_timeout: '100',
      ...flags,
    }).map(([k, v]) => `    ${k}: "${v}"`),
    '',
  ].join('\n');
}

describe('an etcd member from cloud-config on a live systemd host', () => {
  let sys: BootedSystemd;
  let bus: SystemdBus;
  let seeds: string;
  let certs: ReturnType<typeof makeTestCerts>;
  let clientUrl: string;

  beforeAll(async () => {
    certs = makeTestCerts();
    const [client, peer, absentPeer] = [await freePort(), await freePort(), await freePort()];
    clientUrl = `https://127.0.0.1:${client}`;
    const common = { listen_client_urls: clientUrl, advertise_client_urls: clientUrl, listen_peer_urls: `https://127.0.0.1:${peer}`, initial_advertise_peer_urls: `https://127.0.0.1:${peer}` };
    seeds = await fs.mkdtemp(path.join(os.tmpdir(), 'keel-etcd-seeds-'));
    // Two members, the other never there: no quorum, so etcd never says READY.
    await fs.writeFile(path.join(seeds, 'waiting.yaml'), memberConfig(certs, { ...common, name: 'a', initial_cluster: `a=https://127.0.0.1:${peer},b=https://127.0.0.1:${absentPeer}` }));
    await fs.writeFile(path.join(seeds, 'solo.yaml'), memberConfig(certs, { ...common, name: 'solo', initial_cluster: `solo=https://127.0.0.1:${peer}`, initial_cluster_token: 'solo' }));
    sys = await bootSystemd({
      name: 'etcd-member',
      binds: [
        { source: repoRoot, target: '/opt/keel', readOnly: true },
        { source: seeds, target: '/opt/seeds', readOnly: true },
        { source: etcdBinary, target: '/usr/local/bin/etcd', readOnly: true },
      ],
      files: { '/usr/lib/systemd/system/etcd.service': debianUnit },
    });
    bus = await SystemdBus.connect({ address: sys.busAddress });
  });
  afterAll(async () => {
    await bus?.close();
    await sys?.stop();
    if (seeds) await fs.rm(seeds, { recursive: true, force: true });
    if (certs) await fs.rm(certs.dir, { recursive: true, force: true });
  });

  const apply = (file: string) => sys.exec([keel, 'cloud-config', 'apply', '--from-file', `/opt/seeds/${file}`, '--force'], { reject: false, timeoutMs: 120_000 });

  test('a member waiting for its peers does not hold keel-cloudinit: its start is queued, and it is enabled for every boot', async () => {
    const run = await apply('waiting.yaml');
    expect(run.stdout + run.stderr).not.toMatch(/failed/);
    expect(run.exitCode).toBe(0);
    // Still starting when apply is done: a start that waited for the job would still be waiting.
    const props = await bus.getUnitProperties('etcd.service');
    expect({ active: props.activeState, sub: props.subState }).toEqual({ active: 'activating', sub: 'start' });
    const jobs = await sys.exec(['systemctl', 'list-jobs', '--no-legend', 'etcd.service']);
    expect(jobs.stdout).toMatch(/etcd\.service\s+start\s+running/);
    expect(await fs.readlink(path.join(sys.root, 'etc/systemd/system/multi-user.target.wants/etcd.service'))).toBe('/usr/lib/systemd/system/etcd.service');
    // The key etcd reads as user etcd is the config's, owned by etcd, 0600.
    const key = await sys.exec(['stat', '-c', '%U %a', '/etc/etcd/tls/member-key.pem']);
    expect(key.stdout.trim()).toBe('etcd 600');
    await sys.exec(['systemctl', 'stop', 'etcd.service']);
    await sys.exec(['rm', '-rf', '/var/lib/etcd/default']);
  });

  test('a TLS member serves, and the lock and discovery use it with no settings of their own', async () => {
    const run = await apply('solo.yaml');
    expect(run.stdout + run.stderr).not.toMatch(/failed/);
    expect(run.exitCode).toBe(0);
    for (let i = 0; ; i++) {
      const state = (await bus.getUnitProperties('etcd.service')).activeState;
      if (state === 'active') break;
      if (i >= 200) throw new Error(`etcd.service is ${state} 20 s after the apply:\n${(await sys.exec(['journalctl', '-u', 'etcd.service', '--no-pager'], { reject: false })).stdout}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    // Its data is where Debian's unit keeps it: under /var/lib/etcd, which a keel host binds from the state partition.
    expect((await sys.exec(['stat', '-c', '%U', '/var/lib/etcd/default/member'])).stdout.trim()).toBe('etcd');
    // No lock.conf, no --endpoints: keel lock finds the member and its TLS files from etcd's drop-in.
    await expect(fs.access(path.join(sys.root, 'etc/keel/lock.conf'))).rejects.toThrow(/ENOENT/);
    const status = await sys.exec([keel, 'lock', 'status', '--json'], { reject: false, timeoutMs: 60_000 });
    expect(status.stderr).toBe('');
    expect(status.exitCode).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ holders: [] });
    const acquire = await sys.exec([keel, 'lock', 'acquire', '--json'], { reject: false, timeoutMs: 60_000 });
    expect(acquire.exitCode, acquire.stderr).toBe(0);
    const after = JSON.parse((await sys.exec([keel, 'lock', 'status', '--json'], { timeoutMs: 60_000 })).stdout) as { holders: unknown[] };
    expect(after.holders).toHaveLength(1);
    // Discovery on the same member (empty: no container announces here).
    // (etcd3's gRPC client names the IP as the TLS server name, which node reports as DEP0123 on stderr.)
    const endpoints = await sys.exec([keel, 'containers', 'endpoints', '--json'], { reject: false, timeoutMs: 60_000 });
    expect(endpoints.exitCode, endpoints.stderr).toBe(0);
    expect(JSON.parse(endpoints.stdout)).toEqual([]);
  });
});
