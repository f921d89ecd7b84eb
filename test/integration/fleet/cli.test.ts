// `./bin/keel fleet …` (the built bundle) against a real etcd member: status as text and
// --json with three simulated nodes and a lock holder, --watch redrawing on a change, halt
// and resume, warnings for bad records, and one line within the deadline when etcd is away.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { startEtcd, freePort, type EtcdCluster } from '../../harness/etcd.js';
import { FleetStore } from '../../../src/fleet/fleet-store.js';
import { nodeRecord, type NodeRecord } from '../../../src/fleet/node-record.js';
import type { FleetStatus } from '../../../src/fleet/fleet-status.js';

const keel = join(process.cwd(), 'bin/keel');
let etcd: EtcdCluster;
let store: FleetStore;

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(keel, args, { encoding: 'utf8' }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}
const ep = () => ['--endpoints', etcd.endpoints.join(',')];
const t = '2026-12-03T10:00:00.000Z';
const record = (id: string, over: Partial<NodeRecord> = {}): NodeRecord =>
  nodeRecord({ machineId: id, hostname: `web-${id}`, version: '1.0.0', slot: 'a', state: 'steady', stateSince: t, updatedAt: t, ...over });

beforeAll(async () => {
  if (!existsSync(keel)) throw new Error('bin/keel missing: run node scripts/build.mjs');
  etcd = await startEtcd();
  store = new FleetStore({ endpoints: etcd.endpoints });
});
afterAll(async () => {
  await store?.close({ revoke: true });
  await etcd?.stop();
});

describe('keel fleet', () => {
  test('status shows three nodes, the lock holder and a halted rollout, as --json and as text', async () => {
    const nodes = [
      record('n1', { state: 'rebooting', staged: '1.1.0', rebootSlot: { since: t } }),
      record('n2', { state: 'rolled-back', lastError: { message: 'health gate: web.service failed', at: t }, health: { verdict: 'failed', at: t } }),
      record('n3', { version: '1.1.0', slot: 'b', health: { verdict: 'passed', at: t } }),
    ];
    for (const n of nodes) await store.publishNode('web', n);
    expect((await run(['lock', 'acquire', ...ep(), '--group', 'web', '--id', 'n1'])).code).toBe(0);
    await store.recordFailed('web', '1.1.0', { machineId: 'n2', error: 'health gate: web.service failed' }, { maxFailures: { kind: 'count', count: 1 }, healthDeadlineMs: 60_000 });

    const json = await run(['fleet', 'status', ...ep(), '--group', 'web', '--json']);
    expect(json).toMatchObject({ code: 0, stderr: '' });
    const s = JSON.parse(json.stdout) as FleetStatus;
    expect(s.nodes.map((n) => n.record)).toEqual(nodes);
    expect(s.nodes.map((n) => n.lost)).toEqual([false, false, false]);
    expect(s.summary).toMatchObject({ nodes: 3, lost: 0, versions: { '1.0.0': 2, '1.1.0': 1 }, failed: ['n2'], lock: { totalSlots: 1, holders: [{ id: 'n1', hostname: 'web-n1' }] } });
    expect(s.summary.rollouts).toEqual([
      expect.objectContaining({ version: '1.1.0', state: 'halted', started: 1, failed: 1, halted: expect.objectContaining({ by: 'policy', machineId: 'n2', error: 'health gate: web.service failed' }) }),
    ]);

    const text = await run(['fleet', 'status', ...ep(), '--group', 'web']);
    expect(text.code).toBe(0);
    const lines = text.stdout.split('\n');
    expect(lines[0]).toMatch(/^MACHINE ID {2}HOSTNAME {2}VERSION {4}STATE {8}FOR +LAST ERROR$/);
    expect(lines[1]).toMatch(/^n1 {10}web-n1 {4}1\.0\.0 \(a\) {2}rebooting {4}\S+ +\(staged 1\.1\.0, holds a reboot slot\)$/);
    expect(lines[2]).toMatch(/^n2 .* rolled-back .* health gate: web\.service failed$/);
    expect(text.stdout).toMatch(/\nnodes: 3\nversions: 1\.0\.0: 2, 1\.1\.0: 1\nfailed: 1 \(n2\)\nlock: 1 of 1 slot held: n1 \(web-n1\) for \S+\nrollout 1\.1\.0: halted, 1 started, 0 succeeded, 1 failed\n {2}rollout of 1\.1\.0 is halted since \S+ by policy: 1 of 3 nodes failed, reaching max_failures 1 \(tripped by n2: health gate: web\.service failed\)\n$/);
  });

  test('halt and resume by hand; a second halt keeps the first; --reason is required', async () => {
    expect(await run(['fleet', 'halt', '2.0.0', ...ep(), '--group', 'ops', '--reason', 'kernel regression on arm'])).toEqual({ code: 0, stdout: "rollout of 2.0.0 in group 'ops' is halted: kernel regression on arm\n", stderr: '' });
    const again = await run(['fleet', 'halt', '2.0.0', ...ep(), '--group', 'ops', '--reason', 'other', '--json']);
    expect(JSON.parse(again.stdout)).toMatchObject({ group: 'ops', version: '2.0.0', changed: false, rollout: { halted: { by: 'operator', reason: 'kernel regression on arm' } } });
    expect((await store.recordStarted('ops', '2.0.0', 'n9')).ok).toBe(false);
    expect(await run(['fleet', 'resume', '2.0.0', ...ep(), '--group', 'ops'])).toEqual({ code: 0, stdout: "rollout of 2.0.0 in group 'ops' resumed\n", stderr: '' });
    expect((await run(['fleet', 'resume', '2.0.0', ...ep(), '--group', 'ops'])).stdout).toBe("rollout of 2.0.0 in group 'ops' was not halted\n");
    expect((await store.recordStarted('ops', '2.0.0', 'n9')).ok).toBe(true);
    expect(await run(['fleet', 'halt', '2.0.0', ...ep()])).toMatchObject({ code: 2, stderr: 'keel: halt: expected --reason TEXT saying why\n' });
    expect(await run(['fleet', 'halt', '../x', ...ep(), '--reason', 'r'])).toMatchObject({ code: 1, stderr: expect.stringMatching(/^keel: version: expected 1 to 128 letters.*\n$/) });
  });

  test('a malformed record is a warning on stderr naming its key; the rest still shows', async () => {
    await store.publishNode('mixed', record('ok1'));
    await etcd.etcdctl(['put', '/keel/fleet/mixed/nodes/junk', 'not json']);
    const r = await run(['fleet', 'status', ...ep(), '--group', 'mixed', '--json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('warning: /keel/fleet/mixed/nodes/junk: expected JSON, found unparsable text; skipping this node record\n');
    expect((JSON.parse(r.stdout) as FleetStatus).nodes.map((n) => n.record.machineId)).toEqual(['ok1']);
  });

  test('--watch redraws when a record changes', async () => {
    const child = spawn(keel, ['fleet', 'status', ...ep(), '--group', 'watched', '--watch', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const docs: FleetStatus[] = [];
    let buffer = '';
    let waiter: (() => void) | undefined;
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      for (let i = buffer.indexOf('\n'); i >= 0; i = buffer.indexOf('\n')) {
        docs.push(JSON.parse(buffer.slice(0, i)) as FleetStatus);
        buffer = buffer.slice(i + 1);
        waiter?.();
      }
    });
    const docCount = (n: number) => new Promise<void>((resolve) => {
      waiter = () => docs.length >= n && resolve();
      waiter();
    });
    await docCount(1);
    expect(docs[0]!.nodes).toEqual([]);
    await store.publishNode('watched', record('w1', { state: 'downloading' }));
    await docCount(2);
    expect(docs.at(-1)!.nodes.map((n) => [n.record.machineId, n.record.state])).toEqual([['w1', 'downloading']]);
    await store.publishNode('watched', record('w1', { state: 'staged' }));
    await docCount(3);
    expect(docs.at(-1)!.nodes.map((n) => n.record.state)).toEqual(['staged']);
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  test('--watch as text draws the whole status again on a change (a blank line between views off a terminal)', async () => {
    const child = spawn(keel, ['fleet', 'status', ...ep(), '--group', 'watched-text', '--watch'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let waiter: (() => void) | undefined;
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      waiter?.();
    });
    const views = (n: number) => new Promise<void>((resolve) => {
      waiter = () => (out.match(/^rollouts: none$/gm) ?? []).length >= n && resolve();
      waiter();
    });
    await views(1);
    expect(out).toMatch(/^no node records in group 'watched-text'\n/);
    await store.publishNode('watched-text', record('t1'));
    await views(2);
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(out).toMatch(/rollouts: none\n\nMACHINE ID +HOSTNAME +VERSION +STATE +FOR +LAST ERROR\nt1 +web-t1 +1\.0\.0 \(a\) +steady /);
  });

  test('etcd unreachable: exit 1 with one line, refused at once or silent until the deadline', async () => {
    const refused = await run(['fleet', 'status', '--endpoints', `http://127.0.0.1:${await freePort()}`]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toMatch(/^keel: etcd at http:\/\/127\.0\.0\.1:\d+ did not answer [^\n]*\n$/);
    // A listener that accepts and never speaks: only the deadline can end the command.
    const sockets: Socket[] = [];
    const silent: Server = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    const hung = await run(['fleet', 'status', '--endpoints', `http://127.0.0.1:${port}`, '--timeout', '2s']);
    for (const s of sockets) s.destroy();
    silent.close();
    expect(hung.code).toBe(1);
    expect(hung.stderr).toMatch(/^keel: etcd at http:\/\/127\.0\.0\.1:\d+ did not answer [^\n]*\n$/);
  });
});
