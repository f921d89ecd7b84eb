// FleetLock against real etcd: `curl` against `./bin/keel lock serve` gets the protocol's
// answers (header, group, body errors as {kind, value}; idempotent lock and unlock), and
// keel's FleetLock client takes and gives back slots through the same server.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { execFile } from 'node:child_process';
import { startLockServe, type LockServeProcess } from './lock-serve-process.js';
import { join } from 'node:path';
import { startEtcd, type EtcdCluster } from '../../harness/etcd.js';
import { FleetLockClient } from '../../../src/lock/fleetlock-client.js';
import { openRebootLock } from '../../../src/lock/open-reboot-lock.js';

const keel = join(process.cwd(), 'bin/keel');
let etcd: EtcdCluster;
let lockServe: LockServeProcess;
let base: string;

function curl(args: string[]): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    execFile('curl', ['-sS', '-o', '-', '-w', '\n%{http_code}', ...args], { encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`curl failed: ${stderr}`));
      const i = stdout.lastIndexOf('\n');
      resolve({ status: Number(stdout.slice(i + 1)), body: stdout.slice(0, i) });
    });
  });
}
const post = (path: string, body: string, header = true) =>
  curl(['-X', 'POST', ...(header ? ['-H', 'fleet-lock-protocol: true'] : []), '-H', 'content-type: application/json', '--data-binary', body, `${base}${path}`]);
const params = (id: string, group = 'default') => JSON.stringify({ client_params: { id, group } });

beforeAll(async () => {
  etcd = await startEtcd();
  lockServe = await startLockServe(['--endpoints', etcd.endpoints.join(','), '--listen', '127.0.0.1:0', '--base', '/fleetlock', '--slots', '1']);
  base = lockServe.base;
});
afterAll(async () => {
  await lockServe?.stop();
  await etcd?.stop();
});

describe('keel lock serve, with curl', () => {
  test.each([
    ['no header', () => post('/v1/pre-reboot', params('n1'), false), 400, 'missing_fleet_lock_header'],
    ['a bad group', () => post('/v1/pre-reboot', params('n1', 'no/such group')), 400, 'invalid_group'],
    ['a malformed body', () => post('/v1/pre-reboot', '{"client_params":'), 400, 'malformed_body'],
    ['an empty id', () => post('/v1/steady-state', params('')), 400, 'invalid_client_id'],
    ['GET', () => curl(['-H', 'fleet-lock-protocol: true', `${base}/v1/pre-reboot`]), 405, 'method_not_allowed'],
  ])('%s is refused with the protocol error', async (_n, call, status, kind) => {
    const r = await call();
    expect(r.status).toBe(status);
    const body = JSON.parse(r.body) as { kind: string; value: string };
    expect(body.kind).toBe(kind);
    expect(typeof body.value).toBe('string');
  });

  test('lock and unlock are idempotent; a second node is refused while the slot is held', async () => {
    expect((await post('/v1/pre-reboot', params('n1'))).status).toBe(200);
    expect((await post('/v1/pre-reboot', params('n1'))).status).toBe(200);
    const full = await post('/v1/pre-reboot', params('n2'));
    expect(full.status).toBe(409);
    expect(JSON.parse(full.body)).toMatchObject({ kind: 'semaphore_full', value: expect.stringContaining('held by n1') });
    expect((await etcd.etcdctl(['get', 'com.coreos.airlock/groups/default/v1/semaphore', '--print-value-only'])).trim()).toBe('{"total_slots":1,"holders":["n1"]}');
    expect((await post('/v1/steady-state', params('n1'))).status).toBe(200);
    expect((await post('/v1/steady-state', params('n1'))).status).toBe(200);
    expect((await post('/v1/pre-reboot', params('n2'))).status).toBe(200);
    const status = await curl([`${base}/v1/status?group=default`]);
    expect(JSON.parse(status.body)).toMatchObject({ group: 'default', totalSlots: 1, holders: [{ id: 'n2' }] });
    expect((await post('/v1/steady-state', params('n2'))).status).toBe(200);
  });

  test('groups are independent', async () => {
    expect((await post('/v1/pre-reboot', params('w1', 'workers'))).status).toBe(200);
    expect((await post('/v1/pre-reboot', params('m1', 'masters'))).status).toBe(200);
    expect((await post('/v1/pre-reboot', params('w2', 'workers'))).status).toBe(409);
    await post('/v1/steady-state', params('w1', 'workers'));
    await post('/v1/steady-state', params('m1', 'masters'));
  });
});

describe('keel lock serve, hostile and mistaken clients (issue 9)', () => {
  test.each(['http://%zz/v1/status', 'http://[/v1/status', 'http://a:b:c/v1/status', 'http://x:99999/v1/status', 'http://256.1.1.1/v1/status'])(
    'curl --request-target %s gets 400 and the server keeps serving',
    async (target) => {
      const r = await curl(['--request-target', target, `${base}/v1/status`]);
      expect(r.status).toBe(400);
      expect(JSON.parse(r.body)).toMatchObject({ kind: 'bad_request_target' });
      expect(lockServe.process.exitCode).toBeNull();
      expect((await curl([`${base}/v1/status?group=default`])).status).toBe(200);
    },
  );

  test('an invalid node id gets 400, not 500; a 60 KB group gets 400 and no etcd key', async () => {
    expect(JSON.parse((await post('/v1/pre-reboot', params('a b'))).body)).toMatchObject({ kind: 'invalid_client_id' });
    const big = await post('/v1/pre-reboot', params('n1', 'g'.repeat(60_000)));
    expect(big.status).toBe(400);
    expect(JSON.parse(big.body).kind).toBe('invalid_group');
    expect(await etcd.etcdctl(['get', 'com.coreos.airlock/groups/ggg', '--prefix', '--keys-only'])).toBe('');
  });

  test('it warned at start that it serves unauthenticated clients', () => {
    expect(lockServe.log()).toMatch(/warning: keel lock serve: no client authentication \(--client-ca or --tokens\): any client that reaches http:\/\/127\.0\.0\.1:\d+\/fleetlock may take or release any node's slot/);
  });

  test.each([
    [['--listen', '127.0.0.1:99999'], /^keel: --listen: expected ADDRESS:PORT/],
    [['--listen', '10.255.255.254:0'], /^keel: --listen: cannot listen on 10\.255\.255\.254:0 \(EADDRNOTAVAIL\)/],
    [['--slots', '2000000'], /^keel: --slots: expected a whole number from 1 to 10000, found '2000000'/],
    [['--max-groups', '0'], /^keel: --max-groups: expected a whole number from 1 to 100000/],
    [['--tls-cert', '/nonexistent'], /^keel: --tls-cert and --tls-key: expected both or neither/],
  ])('%j is one line naming the option, exit 2', async (args, message) => {
    const r = await new Promise<{ code: number; stderr: string }>((resolve) =>
      execFile(keel, ['lock', 'serve', '--endpoints', etcd.endpoints.join(','), ...args], { encoding: 'utf8' }, (error, _out, stderr) => resolve({ code: error ? Number((error as { code?: number }).code) : 0, stderr })),
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe('keel FleetLock client', () => {
  test('takes, waits for and gives back slots through keel lock serve', async () => {
    const a = openRebootLock({ endpoints: [], group: 'client', fleetlockUrl: base });
    const b = new FleetLockClient({ url: base, group: 'client', retryIntervalMs: 100 });
    await a.acquire('ca');
    await a.acquire('ca');
    await expect(b.acquire('cb', { wait: false })).rejects.toMatchObject({ kind: 'conflict' });
    const waiting = b.acquire('cb');
    await new Promise((r) => setTimeout(r, 300));
    await a.release('ca');
    await waiting;
    expect((await b.status()).holders.map((h) => h.id)).toEqual(['cb']);
    // FleetLock's request carries nothing of the caller's: the agent writes its success itself.
    expect(await b.release('cb', { riders: [{ absent: [], puts: { x: '1' } }] })).toEqual({ rode: false });
    await b.release('cb');
    expect((await b.status()).holders).toEqual([]);
  });

  test('a bad group is refused by the client itself; a bad server answer is invalid-input', async () => {
    expect(() => new FleetLockClient({ url: base, group: 'bad group' })).toThrow(/group: expected/);
    const wrongBase = new FleetLockClient({ url: base.replace('/fleetlock', '/nothing'), group: 'client' });
    await expect(wrongBase.acquire('x')).rejects.toMatchObject({ kind: 'invalid-input' });
  });

  test('the keel CLI uses a FleetLock server with --fleetlock', async () => {
    const run = (args: string[]) =>
      new Promise<number>((resolve) => execFile(keel, ['lock', ...args, '--fleetlock', base, '--group', 'cli'], (error) => resolve(error ? Number((error as { code?: number }).code) : 0)));
    expect(await run(['acquire', '--id', 'x1'])).toBe(0);
    expect(await run(['acquire', '--id', 'x2'])).toBe(1);
    expect(await run(['release', '--id', 'x1'])).toBe(0);
    expect(await run(['acquire', '--id', 'x2'])).toBe(0);
  });
});
