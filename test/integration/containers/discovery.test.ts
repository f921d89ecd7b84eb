// Service discovery with a real etcd member on loopback: a running container's published
// ports appear under /keel/services/<name>/<machine-id> with a lease, and vanish when it stops.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startEtcd, type EtcdCluster } from '../../harness/etcd.js';
import { repoRoot } from '../../harness/rootfs.js';
import { startGuest, testImage, type Guest } from './guest.js';

let etcd: EtcdCluster;
let g: Guest;
let machineId: string;
beforeAll(async () => {
  etcd = await startEtcd();
  // The guest shares the host's network, so the supervisor reaches etcd on loopback.
  g = await startGuest('discovery', { supervisorYaml: `discovery:\n  endpoints: [${etcd.endpoints.join(', ')}]\n  address: 192.0.2.7\n  ttl: 5s\n` });
  machineId = (await readFile(join(g.sys.root, 'etc/machine-id'), 'utf8')).trim();
});
afterAll(async () => {
  await g?.stop();
  await etcd?.stop();
});

const entry = async (name: string) => (await etcd.etcdctl(['get', `/keel/services/${name}/${machineId}`, '--print-value-only'])).trim();

describe('service discovery in etcd', () => {
  test('a running container is announced with a lease, and listed by keel containers endpoints', async () => {
    await g.writeSpec('svc', `name: svc\nimage: ${testImage}\ncommand: [sleep, '3600']\nnetwork: host\nports: ["18080:80", "127.0.0.1:5353:53/udp"]\n`);
    await g.until('svc announced', async () => (await entry('svc')) !== '');
    expect(JSON.parse(await entry('svc'))).toEqual({
      name: 'svc', machineId, address: '192.0.2.7',
      ports: [{ hostPort: 18080, containerPort: 80, protocol: 'tcp' }, { hostPort: 5353, containerPort: 53, protocol: 'udp', hostIp: '127.0.0.1' }],
    });
    const lease = await etcd.etcdctl(['get', `/keel/services/svc/${machineId}`, '-w', 'json']);
    expect(Number(JSON.parse(lease).kvs[0].lease)).toBeGreaterThan(0);
    const listed = await execa(join(repoRoot, 'bin/keel'), ['containers', 'endpoints', 'svc', '--json', '--etcd', etcd.endpoints[0]!]);
    expect(JSON.parse(listed.stdout)).toEqual([expect.objectContaining({ name: 'svc', machineId })]);
    const text = await execa(join(repoRoot, 'bin/keel'), ['containers', 'endpoints', '--etcd', etcd.endpoints[0]!]);
    expect(text.stdout).toBe(`svc ${machineId} 192.0.2.7:18080/tcp 127.0.0.1:5353/udp`);
  });

  test('a container without published ports is not announced', async () => {
    await g.writeSpec('quiet', `name: quiet\nimage: ${testImage}\ncommand: [sleep, '3600']\n`);
    await g.until('quiet active', async () => (await g.state('quiet')).activeState === 'active');
    expect(await entry('quiet')).toBe('');
  });

  test('the entry is withdrawn when the container stops', async () => {
    await g.removeSpec('svc');
    await g.until('svc withdrawn', async () => (await entry('svc')) === '');
    await g.until('svc unit gone', async () => (await g.state('svc')).loadState === 'not-found');
  });

  test('the entry expires with the lease when the host dies', async () => {
    await g.writeSpec('svc', `name: svc\nimage: ${testImage}\ncommand: [sleep, '3600']\nnetwork: host\nports: ["18080:80"]\n`);
    await g.until('svc announced again', async () => (await entry('svc')) !== '');
    // Kill the whole guest (supervisor and containers) without any chance to withdraw.
    await g.stop();
    await g.until('entry expired (ttl 5 s)', async () => (await entry('svc')) === '', 30_000);
  });
});
