// `./bin/keel lock …` (the built bundle) against a real etcd member: locksmithctl's verbs,
// --json, exit codes, lock.conf, the airlock value on the wire.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEtcd, type EtcdCluster } from '../../harness/etcd.js';

const keel = join(process.cwd(), 'bin/keel');
let etcd: EtcdCluster;
let dir: string;

function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(keel, args, { env: { ...process.env, ...env }, encoding: 'utf8' }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

beforeAll(async () => {
  if (!existsSync(keel)) throw new Error('bin/keel missing: run node scripts/build.mjs');
  etcd = await startEtcd();
  dir = mkdtempSync(join(tmpdir(), 'keel-lock-cli-'));
});
afterAll(async () => {
  await etcd?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('keel lock CLI', () => {
  const ep = () => ['--endpoints', etcd.endpoints.join(',')];

  test('acquire, recursive acquire, status --json, full, release, set-max', async () => {
    expect(await run(['lock', 'acquire', ...ep(), '--id', 'a'])).toMatchObject({ code: 0, stdout: "a holds a reboot slot in group 'default'\n" });
    expect((await run(['lock', 'acquire', ...ep(), '--id', 'a'])).code).toBe(0);
    const full = await run(['lock', 'acquire', ...ep(), '--id', 'b']);
    expect(full.code).toBe(1);
    expect(full.stderr).toContain("group 'default' has all 1 slot taken, held by a");
    const status = await run(['lock', 'status', ...ep(), '--json']);
    expect(status.code).toBe(0);
    const data = JSON.parse(status.stdout) as { group: string; totalSlots: number; available: number; holders: { id: string; since: string; heldForMs: number }[] };
    expect(data).toMatchObject({ group: 'default', totalSlots: 1, available: 0, holders: [{ id: 'a' }] });
    expect(data.holders[0]!.heldForMs).toBeGreaterThanOrEqual(0);
    expect((await run(['lock', 'status', ...ep()])).stdout).toMatch(/group: default\nslots: 1 \(0 available\)\nholders:\n {2}a {2}held \d+m?s \(since /);
    expect(await run(['lock', 'set-max', ...ep(), '2', '--json'])).toMatchObject({ code: 0 });
    expect((await run(['lock', 'acquire', ...ep(), '--id', 'b'])).code).toBe(0);
    expect((await etcd.etcdctl(['get', 'com.coreos.airlock/groups/default/v1/semaphore', '--print-value-only'])).trim()).toBe('{"total_slots":2,"holders":["a","b"]}');
    expect((await run(['lock', 'release', ...ep(), '--id', 'a'])).code).toBe(0);
    expect((await run(['lock', 'release', ...ep(), '--id', 'a'])).code).toBe(0); // no-op
    expect((await etcd.etcdctl(['get', 'com.coreos.airlock/groups/default/v1/semaphore', '--print-value-only'])).trim()).toBe('{"total_slots":2,"holders":["b"]}');
  });

  test('--wait blocks until an operator releases the holder; --timeout gives up', async () => {
    const args = [...ep(), '--group', 'waiting'];
    expect((await run(['lock', 'acquire', ...args, '--id', 'dead-node'])).code).toBe(0);
    const timedOut = await run(['lock', 'acquire', ...args, '--id', 'n2', '--wait', '--timeout', '500ms']);
    expect(timedOut.code).toBe(1);
    expect(timedOut.stderr).toMatch(/timed out while waiting \(held by dead-node\)/);
    const waiting = run(['lock', 'acquire', ...args, '--id', 'n2', '--wait', '--json']);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await run(['lock', 'release', ...args, '--id', 'dead-node'])).toMatchObject({ code: 0, stderr: '' });
    const done = await waiting;
    expect(done).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(done.stdout)).toMatchObject({ acquired: true, id: 'n2', group: 'waiting' });
  });

  test('settings from lock.conf; flags override; the id defaults to the machine id', async () => {
    const conf = join(dir, 'lock.conf');
    writeFileSync(conf, `ENDPOINTS=${etcd.endpoints.join(',')}\nGROUP=fromconf\n`);
    expect((await run(['lock', 'acquire', '--config', conf, '--id', 'c1'])).code).toBe(0);
    expect(JSON.parse((await run(['lock', 'status', '--config', conf, '--json'])).stdout)).toMatchObject({ group: 'fromconf', holders: [{ id: 'c1' }] });
    expect(JSON.parse((await run(['lock', 'status', '--config', conf, '--group', 'other', '--json'])).stdout)).toMatchObject({ group: 'other', holders: [] });
    if (existsSync('/etc/machine-id') && readFileSync('/etc/machine-id', 'utf8').trim()) {
      const machineId = readFileSync('/etc/machine-id', 'utf8').trim();
      expect((await run(['lock', 'acquire', '--config', conf, '--group', 'mid'])).code).toBe(0);
      expect(JSON.parse((await run(['lock', 'status', '--config', conf, '--group', 'mid', '--json'])).stdout)).toMatchObject({ holders: [{ id: machineId }] });
    }
  });

  test('usage errors exit 2; bad input exits 1', async () => {
    expect((await run(['lock', 'set-max', ...ep(), 'many'])).code).toBe(2);
    expect((await run(['lock', 'acquire', ...ep(), '--bogus'])).code).toBe(2);
    expect((await run(['lock', 'status', ...ep(), '--group', 'bad group'])).code).toBe(1);
    expect((await run(['lock', 'status', '--config', join(dir, 'missing.conf')])).code).toBe(1);
    const none = await run(['lock', 'status', '--config', '/dev/null']);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('no etcd endpoints');
    expect((await run(['lock', 'acquire', '--help'])).stdout).toContain('--wait');
  });
});
