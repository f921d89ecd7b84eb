// `keel lock setup-auth` against real etcd with authentication turned on (issue 10): the
// agent user cannot write outside keel's and airlock's prefixes but takes, waits for and
// releases the lock; the operator releases another holder; with client certificates
// (etcd --client-cert-auth) the certificate's CN is the user and keeps working. The agent
// user's confirmation of a slot handed over may carry its rollout start mark.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { etcdctlBinary, startEtcd, type EtcdCluster } from '../../harness/etcd.js';
import { issueClientCert, makeTestCerts } from './test-certs.js';
import { EtcdLockStore } from '../../../src/lock/etcd-store.js';
import { SemaphoreLock } from '../../../src/lock/semaphore-lock.js';

const keel = join(process.cwd(), 'bin/keel');
type Run = { code: number; stdout: string; stderr: string };
const run = (cmd: string, args: string[], env: Record<string, string> = {}): Promise<Run> =>
  new Promise((resolve) =>
    execFile(cmd, args, { encoding: 'utf8', env: { ...process.env, ETCDCTL_API: '3', ...env } }, (error, stdout, stderr) =>
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  );
const passwords = { KEEL_ETCD_ROOT_PASSWORD: 'root-pw-1', KEEL_ETCD_AGENT_PASSWORD: 'agent-pw-2', KEEL_ETCD_OPERATOR_PASSWORD: 'operator-pw-3' };

describe('setup-auth with passwords', () => {
  let etcd: EtcdCluster;
  let ep: string[];
  const ctl = (user: string, args: string[]) => run(etcdctlBinary, ['--endpoints', etcd.endpoints.join(','), '--user', user, ...args]);
  const agent = ['--user', 'keel-agent', '--password', passwords.KEEL_ETCD_AGENT_PASSWORD];
  const operator = ['--user', 'keel-operator', '--password', passwords.KEEL_ETCD_OPERATOR_PASSWORD];
  beforeAll(async () => {
    etcd = await startEtcd();
    ep = ['--endpoints', etcd.endpoints.join(',')];
  });
  afterAll(() => etcd?.stop());

  test('creates the roles and users and enables auth; a second run keeps them', async () => {
    const first = await run(keel, ['lock', 'setup-auth', ...ep], passwords);
    expect(first).toMatchObject({ code: 0, stderr: '' });
    expect(first.stdout).toContain('done: granting keel-agent readwrite on com.coreos.airlock/*');
    expect(first.stdout.trim().split('\n').at(-1)).toBe('done: enabling authentication');
    expect((await run(etcdctlBinary, ['--endpoints', etcd.endpoints.join(','), 'get', 'x'])).code).not.toBe(0);
    const again = await run(keel, ['lock', 'setup-auth', ...ep, '--user', 'root', '--password', passwords.KEEL_ETCD_ROOT_PASSWORD, '--json'], passwords);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout).steps.filter((s: { outcome: string }) => s.outcome === 'kept').map((s: { step: string }) => s.step)).toEqual([
      'adding user root',
      'adding role keel-agent',
      'adding user keel-agent',
      'adding role keel-operator',
      'adding user keel-operator',
    ]);
  });

  test('the agent cannot write outside its prefixes, and can inside', async () => {
    const user = `keel-agent:${passwords.KEEL_ETCD_AGENT_PASSWORD}`;
    for (const key of ['/other', 'keel/no-slash', '/keelx', 'com.coreos.airlockx']) {
      const r = await ctl(user, ['put', key, 'v']);
      expect(r.code, key).not.toBe(0);
      expect(r.stderr).toContain('permission denied');
    }
    expect((await ctl(user, ['put', '/keel/nodes/n1', 'v'])).code).toBe(0);
    expect((await ctl(`root:${passwords.KEEL_ETCD_ROOT_PASSWORD}`, ['put', '/other', 'v'])).code).toBe(0);
    expect((await ctl(user, ['get', '/other'])).code).not.toBe(0);
  });

  test('the agent takes, waits for and releases the lock; the operator releases another holder', async () => {
    expect((await run(keel, ['lock', 'acquire', ...ep, ...agent, '--id', 'n1'])).code).toBe(0);
    const waiting = run(keel, ['lock', 'acquire', ...ep, ...agent, '--id', 'n2', '--wait', '--timeout', '60s']);
    await new Promise((r) => setTimeout(r, 1000));
    expect(await run(keel, ['lock', 'release', ...ep, ...operator, '--id', 'n1'])).toMatchObject({ code: 0, stderr: '' });
    expect(await waiting).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse((await run(keel, ['lock', 'status', ...ep, ...operator, '--json'])).stdout)).toMatchObject({ holders: [{ id: 'n2' }] });
    expect((await run(keel, ['lock', 'release', ...ep, ...agent, '--id', 'n2'])).code).toBe(0);
    const denied = await run(keel, ['lock', 'status', ...ep]);
    expect(denied.code).toBe(1);
  });

  test("the agent user's confirmation of a slot handed over carries its rollout start mark, and its release its success (transactions inside them, under authentication)", async () => {
    const connection = { endpoints: etcd.endpoints, username: 'keel-agent', password: passwords.KEEL_ETCD_AGENT_PASSWORD };
    const open = () => new SemaphoreLock({ store: new EtcdLockStore(connection), group: 'rider' });
    const [holder, waiter] = [open(), open()];
    try {
      await holder.acquire('n1');
      let rode: boolean | undefined;
      const mark = '/keel/fleet/rider/rollouts/9.9.9/started/n2';
      const waiting = waiter.acquire('n2', { rider: { absent: ['/keel/fleet/rider/rollouts/9.9.9', mark], puts: { [mark]: 'now' } }, whenGranted: async (r) => void (rode = r) });
      await new Promise((r) => setTimeout(r, 300));
      await holder.release('n1');
      await waiting;
      expect(rode).toBe(true);
      expect((await ctl(`keel-operator:${passwords.KEEL_ETCD_OPERATOR_PASSWORD}`, ['get', mark, '--print-value-only'])).stdout.trim()).toBe('now');
      // And its release carries its success the same way.
      const success = '/keel/fleet/rider/rollouts/9.9.9/succeeded/n2';
      expect(await waiter.release('n2', { riders: [{ absent: [], puts: { [success]: 'later' } }] })).toEqual({ rode: true });
      expect((await ctl(`keel-operator:${passwords.KEEL_ETCD_OPERATOR_PASSWORD}`, ['get', success, '--print-value-only'])).stdout.trim()).toBe('later');
    } finally {
      await Promise.all([holder.close(), waiter.close()]);
    }
  });
});

describe('setup-auth with client certificates', () => {
  const certs = makeTestCerts('root');
  const agentCert = issueClientCert(certs.dir, 'keel-agent');
  const operatorCert = issueClientCert(certs.dir, 'keel-operator');
  let etcd: EtcdCluster;
  const tlsFlags = (c: { certFile: string; keyFile: string }) => ['--cacert', certs.caFile, '--cert', c.certFile, '--key', c.keyFile];
  beforeAll(async () => {
    etcd = await startEtcd({ tls: certs });
  });
  afterAll(async () => {
    await etcd?.stop();
    rmSync(certs.dir, { recursive: true, force: true });
  });

  test('without a root password or certificate it refuses to lock everyone out', async () => {
    const r = await run(keel, ['lock', 'setup-auth', '--endpoints', etcd.endpoints.join(','), '--cacert', certs.caFile]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('KEEL_ETCD_ROOT_PASSWORD is unset and no --cert is given');
  });

  test('users log in by certificate name: the agent is confined, takes the lock; the operator releases it', async () => {
    const ep = ['--endpoints', etcd.endpoints.join(',')];
    expect((await run(keel, ['lock', 'setup-auth', ...ep, ...tlsFlags({ certFile: certs.clientCertFile, keyFile: certs.clientKeyFile })])).code).toBe(0);
    const agentCtl = (args: string[]) => run(etcdctlBinary, [...ep, `--cacert=${certs.caFile}`, `--cert=${agentCert.certFile}`, `--key=${agentCert.keyFile}`, ...args]);
    const outside = await agentCtl(['put', '/other', 'v']);
    expect(outside.code).not.toBe(0);
    expect(outside.stderr).toContain('permission denied');
    expect((await agentCtl(['put', '/keel/nodes/n1', 'v'])).code).toBe(0);
    expect((await run(keel, ['lock', 'acquire', ...ep, ...tlsFlags(agentCert), '--id', 'c1'])).code).toBe(0);
    expect((await run(keel, ['lock', 'release', ...ep, ...tlsFlags(operatorCert), '--id', 'c1'])).code).toBe(0);
    expect((await etcd.etcdctl(['get', 'com.coreos.airlock/groups/default/v1/semaphore', '--print-value-only'])).trim()).toBe('{"total_slots":1,"holders":[]}');
  });
});
