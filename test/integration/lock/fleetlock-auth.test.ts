// FleetLock with identity against real etcd (issue 10): `./bin/keel lock serve` over TLS
// with client certificates and bearer tokens. A node takes and releases only its own
// slot; a certificate or token naming another node is refused 403; an operator
// releases any holder; no credentials is 401; an untrusted certificate is no identity.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { execFile } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { startEtcd, type EtcdCluster } from '../../harness/etcd.js';
import { startLockServe, type LockServeProcess } from './lock-serve-process.js';
import { issueClientCert, makeStrangerCert, makeTestCerts } from './test-certs.js';

const keel = join(process.cwd(), 'bin/keel');
let etcd: EtcdCluster;
let lockServe: LockServeProcess;
let base: string;
const certs = makeTestCerts('unused');
const stranger = makeStrangerCert('node-a');
const client = { a: issueClientCert(certs.dir, 'node-a'), b: issueClientCert(certs.dir, 'node-b'), ops: issueClientCert(certs.dir, 'ops') };
const tokens = { a: 'token-of-node-a-0123456789', b: 'token-of-node-b-0123456789', ops: 'token-of-operator-0123456789' };

function call(path: string, options: { id?: string; cert?: { certFile: string; keyFile: string }; token?: string; method?: string } = {}): Promise<{ status: number; body: { kind?: string; value?: string; holders?: { id: string }[] } }> {
  const body = options.id === undefined ? '' : JSON.stringify({ client_params: { id: options.id, group: 'auth' } });
  return new Promise((resolve, reject) => {
    const req = request(
      `${base}${path}`,
      {
        method: options.method ?? 'POST',
        ca: readFileSync(certs.caFile),
        ...(options.cert ? { cert: readFileSync(options.cert.certFile), key: readFileSync(options.cert.keyFile) } : {}),
        headers: { 'fleet-lock-protocol': 'true', 'content-type': 'application/json', ...(options.token ? { authorization: `Bearer ${options.token}` } : {}) },
      },
      (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : {} }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
const take = (id: string, o: Parameters<typeof call>[1] = {}) => call('/v1/pre-reboot', { ...o, id });
const give = (id: string, o: Parameters<typeof call>[1] = {}) => call('/v1/steady-state', { ...o, id });
const holders = async () => (await call('/v1/status?group=auth', { method: 'GET', cert: client.ops })).body.holders?.map((h) => h.id);

beforeAll(async () => {
  etcd = await startEtcd();
  const tokensFile = join(certs.dir, 'tokens');
  writeFileSync(tokensFile, `# node-id token\nnode-a ${tokens.a}\nnode-b ${tokens.b}\nops ${tokens.ops}\n`);
  chmodSync(tokensFile, 0o600);
  lockServe = await startLockServe(['--endpoints', etcd.endpoints.join(','), '--listen', '127.0.0.1:0', '--tls-cert', certs.serverCertFile, '--tls-key', certs.serverKeyFile, '--client-ca', certs.caFile, '--tokens', tokensFile, '--operators', 'ops']);
  base = lockServe.base;
});
afterAll(async () => {
  await lockServe?.stop();
  await etcd?.stop();
  rmSync(certs.dir, { recursive: true, force: true });
  rmSync(stranger.dir, { recursive: true, force: true });
});

describe('keel lock serve with mutual TLS', () => {
  test('starts on https and logs how clients authenticate, with no unauthenticated warning', () => {
    expect(base).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(lockServe.log()).toContain('clients authenticate with client certificates or 3 bearer tokens; operators: ops');
    expect(lockServe.log()).not.toContain('no client authentication');
  });

  test('a certificate naming another node is refused 403 and changes nothing', async () => {
    expect((await take('node-a', { cert: client.a })).status).toBe(200);
    const r = await give('node-a', { cert: client.b });
    expect(r.status).toBe(403);
    expect(r.body).toMatchObject({ kind: 'forbidden', value: expect.stringContaining('certificate "node-b" asked to release the slot of "node-a"') });
    expect((await take('node-b', { cert: client.a })).status).toBe(403);
    expect(await holders()).toEqual(['node-a']);
    expect((await etcd.etcdctl(['get', 'com.coreos.airlock/groups/auth/v1/semaphore', '--print-value-only'])).trim()).toBe('{"total_slots":1,"holders":["node-a"]}');
    expect((await give('node-a', { cert: client.a })).status).toBe(200);
    expect(await holders()).toEqual([]);
  });

  test('no credentials is 401; a certificate from another CA is no identity', async () => {
    expect(await take('node-a')).toMatchObject({ status: 401, body: { kind: 'unauthenticated' } });
    expect((await take('node-a', { cert: stranger })).status).toBe(401);
    expect((await call('/v1/status?group=auth', { method: 'GET' })).status).toBe(401);
  });

  test('an operator certificate releases another holder but cannot take a slot for it', async () => {
    expect((await take('node-b', { cert: client.b })).status).toBe(200);
    expect((await take('node-a', { cert: client.ops })).status).toBe(403);
    expect((await give('node-b', { cert: client.ops })).status).toBe(200);
    expect(await holders()).toEqual([]);
  });
});

describe('keel lock serve with bearer tokens', () => {
  test('a token takes and releases its own slot; another node\'s token is refused 403; a wrong token 401', async () => {
    expect((await take('node-a', { token: tokens.a })).status).toBe(200);
    expect(await give('node-a', { token: tokens.b })).toMatchObject({ status: 403, body: { kind: 'forbidden' } });
    expect((await take('node-b', { token: tokens.a })).status).toBe(403);
    expect((await give('node-a', { token: `${tokens.a}x` })).status).toBe(401);
    expect(await holders()).toEqual(['node-a']);
    expect((await give('node-a', { token: tokens.ops })).status).toBe(200);
    expect(await holders()).toEqual([]);
  });
});

describe('keel lock --fleetlock against a server with identity', () => {
  const cli = (args: string[]) =>
    new Promise<{ code: number; stderr: string }>((resolve) =>
      execFile(keel, ['lock', ...args, '--fleetlock', base, '--group', 'auth', '--cacert', certs.caFile], { encoding: 'utf8' }, (error, _out, stderr) =>
        resolve({ code: error ? Number((error as { code?: number }).code) : 0, stderr }),
      ),
    );
  const as = (c: { certFile: string; keyFile: string }) => ['--cert', c.certFile, '--key', c.keyFile];

  test('a node certificate takes its own slot, is refused another node\'s; a token file works too', async () => {
    expect(await cli(['acquire', '--id', 'node-a', ...as(client.a)])).toMatchObject({ code: 0, stderr: '' });
    const other = await cli(['release', '--id', 'node-a', ...as(client.b)]);
    expect(other.code).toBe(1);
    expect(other.stderr).toContain('forbidden: certificate "node-b" asked to release the slot of "node-a"');
    const noCredentials = await cli(['release', '--id', 'node-a']);
    expect(noCredentials.code).toBe(1);
    expect(noCredentials.stderr).toContain('unauthenticated');
    const tokenFile = join(certs.dir, 'ops.token');
    writeFileSync(tokenFile, `${tokens.ops}\n`);
    expect(await cli(['release', '--id', 'node-a', '--fleetlock-token', tokenFile])).toMatchObject({ code: 0, stderr: '' });
    expect(await holders()).toEqual([]);
  });
});
