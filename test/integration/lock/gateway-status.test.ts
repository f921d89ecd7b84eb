// `keel lock status` over etcd's JSON gateway (src/lock/etcd-gateway.ts) against real etcd:
// plain, TLS with client certificates, user and password, a dead first endpoint, and etcd's
// refusal of a certificate's CN behind the gateway (the status then comes through the gRPC
// client). In each, the status equals what the etcd3 (gRPC) path reads for the same state,
// and the CLI prints it.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, startEtcd, type EtcdCluster } from '../../harness/etcd.js';
import { makeTestCerts } from './test-certs.js';
import { gatewayLockStatus } from '../../../src/lock/etcd-gateway.js';
import { openRebootLock } from '../../../src/lock/open-reboot-lock.js';
import type { LockSettings } from '../../../src/lock/lock-settings.js';

const keel = join(process.cwd(), 'bin/keel');
const group = 'gw';
const prefix = `com.coreos.airlock/groups/${group}/v1`;

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(keel, args, { encoding: 'utf8', env: { ...process.env, KEEL_ETCD_PASSWORD: '' } }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** A group with a confirmed holder, one whose hand-off is pending, and an airlock holder without a time. */
async function writeState(etcd: EtcdCluster, auth: string[] = []): Promise<void> {
  const put = (k: string, v: string) => etcd.etcdctl([...auth, 'put', k, v]);
  await put(`${prefix}/semaphore`, '{"total_slots":4,"holders":["n1","n2","airlock-node"]}');
  await put(`${prefix}/keel-holders/n1`, '2026-01-01T00:00:00.000Z');
  await put(`${prefix}/keel-holders/n2`, `2026-01-02T00:00:00.000Z granted ${prefix}/keel-queue/0000000000000009/n2`);
}

function settingsFlags(s: LockSettings): string[] {
  const flags: [string, string | undefined][] = [['--endpoints', s.endpoints.join(',')], ['--cacert', s.cafile], ['--cert', s.certfile], ['--key', s.keyfile], ['--user', s.username], ['--password', s.password]];
  return flags.flatMap(([f, v]) => (v === undefined ? [] : [f, v]));
}

/** The status through the gRPC client (etcd3), as `keel lock status` read it before the gateway. */
async function grpcStatus(settings: LockSettings) {
  const lock = openRebootLock({ ...settings, group }, { operationTimeoutMs: 10_000 });
  try {
    return await lock.status();
  } finally {
    await lock.close();
  }
}

/** The CLI's --json and text output agree with the gRPC read (held-for times aside: the clock moves). */
async function expectCliShows(settings: LockSettings, viaGrpc = false): Promise<void> {
  const expected = await grpcStatus(settings);
  const json = await run(['lock', 'status', '--group', group, '--json', ...settingsFlags(settings)]);
  // grpc-js warns that it sets an IP address as the TLS server name (node's DEP0123); the gateway says nothing.
  if (viaGrpc) expect(json.stderr).not.toContain('keel:');
  else expect(json.stderr).toBe('');
  expect(json.code).toBe(0);
  const shown = JSON.parse(json.stdout) as { holders: { heldForMs?: number }[] };
  for (const h of shown.holders) delete h.heldForMs;
  expect(shown).toEqual({ group, totalSlots: expected.totalSlots, available: expected.totalSlots - expected.holders.length, holders: expected.holders });
  const text = await run(['lock', 'status', '--group', group, ...settingsFlags(settings)]);
  expect(text.code).toBe(0);
  const lines = expected.holders.map((h) => (h.since ? `  ${h.id}  held \\S+ \\(since ${h.since.replace(/\./g, '\\.')}\\)` : `  ${h.id}  held since unknown \\(not taken by keel\\)`));
  expect(text.stdout).toMatch(new RegExp(`^group: ${group}\\nslots: ${expected.totalSlots} \\(${expected.totalSlots - expected.holders.length} available\\)\\nholders:\\n${lines.join('\\n')}\\n$`));
}

beforeAll(() => {
  if (!existsSync(keel)) throw new Error('bin/keel missing: run node scripts/build.mjs');
});

describe('plain etcd', () => {
  let etcd: EtcdCluster;
  beforeAll(async () => {
    etcd = await startEtcd();
  });
  afterAll(async () => {
    await etcd?.stop();
  });

  test('an empty group: one free slot, as the gRPC path says', async () => {
    const settings = { endpoints: etcd.endpoints };
    expect(await gatewayLockStatus(settings, group, { operationTimeoutMs: 10_000 })).toEqual(await grpcStatus(settings));
    expect((await run(['lock', 'status', '--group', group, ...settingsFlags(settings)])).stdout).toBe(`group: ${group}\nslots: 1 (1 available)\nholders: none\n`);
  });

  test('holders confirmed, pending and from airlock: the same status as the gRPC path', async () => {
    await writeState(etcd);
    const settings = { endpoints: etcd.endpoints };
    expect(await gatewayLockStatus(settings, group, { operationTimeoutMs: 10_000 })).toEqual(await grpcStatus(settings));
    await expectCliShows(settings);
  });

  test('a dead first endpoint: the next one answers', async () => {
    const settings = { endpoints: [`http://127.0.0.1:${await freePort()}`, ...etcd.endpoints] };
    expect(await gatewayLockStatus(settings, group, { operationTimeoutMs: 10_000 })).toEqual(await grpcStatus({ endpoints: etcd.endpoints }));
    await expectCliShows(settings);
  });

  test("the status read loads neither etcd3's gRPC nor node's http2 and tls (the ~110 ms it saves)", async () => {
    // bin/keel's loader run in a node that prints the built-in modules it loaded, at exit.
    const probe = `process.argv = [process.argv[0], ${JSON.stringify(keel)}, ...process.argv.slice(1)];
      process.on('exit', () => process.stderr.write('loaded: ' + process.moduleLoadList.join(',') + '\\n'));
      require(${JSON.stringify(join(process.cwd(), 'bin/keel-loader.cjs'))});`;
    const r = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) =>
      execFile(process.execPath, ['-e', probe, 'lock', 'status', '--group', group, '--endpoints', etcd.endpoints.join(',')], { encoding: 'utf8' }, (error, stdout, stderr) => (error ? reject(error) : resolve({ stdout, stderr }))),
    );
    expect(r.stdout).toContain(`group: ${group}\n`);
    const loaded = r.stderr.split('loaded: ')[1]!.trim().split(',');
    expect(loaded).toContain('NativeModule http');
    expect(loaded.filter((m) => /^NativeModule (http2|tls|_tls_wrap)$/.test(m))).toEqual([]);
  });

  test('a semaphore value keel does not understand: exit 1, refusing, as before', async () => {
    await etcd.etcdctl(['put', 'com.coreos.airlock/groups/bad/v1/semaphore', 'not json']);
    const r = await run(['lock', 'status', '--group', 'bad', '--endpoints', etcd.endpoints.join(',')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("expected airlock's JSON");
  });
});

describe('etcd with TLS and client certificates', () => {
  const certs = makeTestCerts('root');
  let etcd: EtcdCluster;
  let settings: LockSettings;
  beforeAll(async () => {
    etcd = await startEtcd({ tls: certs });
    settings = { endpoints: etcd.endpoints, cafile: certs.caFile, certfile: certs.clientCertFile, keyfile: certs.clientKeyFile };
    await writeState(etcd);
  });
  afterAll(async () => {
    await etcd?.stop();
    rmSync(certs.dir, { recursive: true, force: true });
  });

  test('the same status as the gRPC path, through the gateway', async () => {
    expect(await gatewayLockStatus(settings, group, { operationTimeoutMs: 10_000 })).toEqual(await grpcStatus(settings));
    await expectCliShows(settings);
  });

  test("with etcd authentication on, the gateway refuses the certificate's CN: the gRPC client answers", async () => {
    await etcd.etcdctl(['user', 'add', 'root', '--new-user-password=rootpw']);
    await etcd.etcdctl(['user', 'grant-role', 'root', 'root']);
    await etcd.etcdctl(['auth', 'enable']);
    expect(await gatewayLockStatus(settings, group, { operationTimeoutMs: 10_000 })).toBeUndefined();
    await expectCliShows(settings, true);
  });
});

describe('etcd with users and passwords', () => {
  let etcd: EtcdCluster;
  const root = ['--user', 'root:rootpw'];
  beforeAll(async () => {
    etcd = await startEtcd();
    await etcd.etcdctl(['user', 'add', 'root', '--new-user-password=rootpw']);
    await etcd.etcdctl(['user', 'grant-role', 'root', 'root']);
    await etcd.etcdctl(['user', 'add', 'nobody', '--new-user-password=nobodypw']);
    await etcd.etcdctl(['auth', 'enable']);
    await writeState(etcd, root);
  });
  afterAll(async () => {
    await etcd?.stop();
  });

  test('signed in: the same status as the gRPC path', async () => {
    const settings = { endpoints: etcd.endpoints, username: 'root', password: 'rootpw' };
    expect(await gatewayLockStatus(settings, group, { operationTimeoutMs: 10_000 })).toEqual(await grpcStatus(settings));
    await expectCliShows(settings);
  });

  test.each([
    ['a wrong password', ['--user', 'root', '--password', 'wrong'], 'authentication failed'],
    ['no user', [], 'user name is empty'],
    ['a user without a role', ['--user', 'nobody', '--password', 'nobodypw'], 'permission denied'],
  ])('%s: exit 1, etcd refused, no retrying', async (_name, flags, said) => {
    const r = await run(['lock', 'status', '--group', group, '--endpoints', etcd.endpoints.join(','), ...flags]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('etcd refused');
    expect(r.stderr).toContain(said);
    expect(r.stderr).not.toContain('gave up after');
  });
});
