import { afterAll, beforeAll, expect, test } from 'vitest';
import { chmod, mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { startEtcd, type EtcdCluster } from '../../harness/etcd.js';
import { openRebootLock } from '../../../src/lock/open-reboot-lock.js';
import { makeKey, publish, tempDir } from '../../unit/update/fixture.js';
import { bootOnce, makeHostTree } from './boot-tree.js';
import { serveDirectory, type StaticServer } from './static-server.js';
import { agentRunner } from './agent-run.js';

// The agent (`./bin/keel update agent`) on a host kept as a directory tree, against a real
// HTTP repository and a real etcd reboot lock. Reboots are a script that kills the agent;
// a boot is bootOnce (systemd-boot's choice and counting). The three scenarios of the e2e
// test, without a VM: v1 → v2 with the lock; v3 failing its health gate rolls back by
// itself and is never retried; the agent killed mid-download boots v2 again and resumes.
const key = makeKey();
let work: string;
let root: string;
let slots: string;
const { keel, agent, status, runUntilReboot, runUntil, health } = agentRunner(() => ({ root, slots }));
let etcd: EtcdCluster;
let server: StaticServer;
let slow: StaticServer;
const images: Record<string, Buffer> = {};

/** One boot; a slot holding 3.0.0 carries a failing health check in /usr/lib/keel/health.d. */
async function boot() {
  const b = await bootOnce(root);
  const check = join(root, 'usr/lib/keel/health.d/50-broken');
  if (b.version === '3.0.0') {
    await mkdir(join(check, '..'), { recursive: true });
    await writeFile(check, '#!/bin/sh\necho "v3 is broken" >&2\nexit 1\n');
    await chmod(check, 0o755);
  } else await rm(check, { force: true });
  return b;
}

async function lockHolders(): Promise<string[]> {
  const lock = openRebootLock({ endpoints: etcd.endpoints });
  try {
    return (await lock.status()).holders.map((h) => h.id);
  } finally {
    await lock.close();
  }
}

beforeAll(async () => {
  work = await tempDir('keel-agent-');
  root = join(work, 'root');
  slots = join(work, 'slots');
  await mkdir(slots, { recursive: true });
  etcd = await startEtcd();
  server = await serveDirectory(work);
  slow = await serveDirectory(work, { bytesPerSecond: 16 << 20 });
  for (const v of ['1.0.0', '2.0.0']) images[v] = await publish(join(work, 'repo'), work, key.signer, v);
  await makeHostTree(root, '1.0.0', {
    'usr/lib/keel/update-trust.pub': key.publicPem,
    'etc/machine-id': 'node-1\n',
    'etc/keel/update.conf': `REBOOT_STRATEGY=etcd-lock\nSERVER=${server.url}/repo\nCHECK_INTERVAL=1s\nPOSTPONE_WHILE_LOGGED_IN=false\n`,
    'etc/keel/lock.conf': `ENDPOINTS=${etcd.endpoints.join(',')}\n`,
    'reboot.sh': '#!/bin/sh\necho reboot >> "$(dirname "$0")/reboots"\nkill -KILL $PPID\n',
  });
  await chmod(join(root, 'reboot.sh'), 0o755);
  await writeFile(join(slots, 'slot-a.img'), images['1.0.0']!);
});

afterAll(async () => {
  await server?.close();
  await slow?.close();
  await etcd?.stop();
  await rm(work, { recursive: true, force: true });
});

test('v1 finds v2, writes slot b, takes the lock, reboots, passes the health gate, releases the lock', async () => {
  expect(await boot()).toMatchObject({ slot: 'a', version: '1.0.0' });
  expect(await health()).toBe(0);
  await runUntilReboot();
  expect(Buffer.compare(await readFile(join(slots, 'slot-b.img')), images['2.0.0']!)).toBe(0);
  expect(await readdir(join(root, 'boot/loader/entries'))).toEqual(expect.arrayContaining(['keel-1.0.0+3-0.conf', 'keel-2.0.0+3.conf']));
  expect(await readFile(join(root, 'boot/keel/b/vmlinuz'), 'utf8')).toBe('kernel 2.0.0\n');
  // The entry carries the dm-verity root hash signed for 2.0.0's slot (checked with veritysetup before it was written).
  const signed = JSON.parse(await readFile(join(work, 'repo/metadata/targets.json'), 'utf8')).signed.targets['stable/2.0.0/root.img'].custom.keel.verity;
  expect(await readFile(join(root, 'boot/loader/entries/keel-2.0.0+3.conf'), 'utf8')).toMatch(new RegExp(`^options .*keel\\.slot=b keel\\.verity=${signed.rootHash} keel\\.verity\\.hashoffset=${signed.hashOffset}$`, 'm'));
  expect(await lockHolders()).toEqual(['node-1']);
  expect(await status()).toMatchObject({ booted: { slot: 'a', version: '1.0.0', state: 'good' }, other: { slot: 'b', version: '2.0.0', state: 'trying' }, staged: '2.0.0', agentState: 'rebooting', lockHeld: true });

  expect(await boot()).toMatchObject({ slot: 'b', version: '2.0.0', entry: 'keel-2.0.0+3.conf' });
  expect(await health()).toBe(0);
  await runUntil((s) => s.agentState === 'steady' && s.lastCheck !== null && !s.lockHeld && /newest/.test(s.lastCheckResult ?? ''));
  expect(await readdir(join(root, 'boot/loader/entries'))).toEqual(expect.arrayContaining(['keel-1.0.0+3-0.conf', 'keel-2.0.0+3-0.conf']));
  expect(await lockHolders()).toEqual([]);
  expect(await status()).toMatchObject({ booted: { slot: 'b', version: '2.0.0', state: 'good' }, other: { slot: 'a', version: '1.0.0', state: 'good' }, staged: null, lastError: null, lockHeld: false });
  // Booted through dm-verity with the signed root hash, as the initramfs records it.
  expect((await status()).booted).toMatchObject({ verity: 'on', rootHash: signed.rootHash });
});

test('v3 fails its health gate: rebooted until its tries run out, v2 boots by itself, v3 is never retried', async () => {
  images['3.0.0'] = await publish(join(work, 'repo'), work, key.signer, '3.0.0');
  await runUntilReboot(); // on v2: finds v3, writes slot a, reboots
  expect(Buffer.compare(await readFile(join(slots, 'slot-a.img')), images['3.0.0']!)).toBe(0);
  expect((await readdir(join(root, 'boot/loader/entries'))).sort()).toEqual(['keel-2.0.0+3-0.conf', 'keel-3.0.0+3.conf']);
  let v3Boots = 0;
  for (;;) {
    const b = await boot();
    if (b.version !== '3.0.0') break;
    v3Boots++;
    expect(await health()).toBe(1);
    const stderr = await runUntilReboot();
    expect(stderr).toMatch(/failed the health gate/);
    expect(v3Boots).toBeLessThanOrEqual(3);
  }
  expect(v3Boots).toBe(3);
  expect(await health()).toBe(0);
  const slotA = await stat(join(slots, 'slot-a.img'));
  await runUntil((s) => s.agentState === 'steady' && /skipped 3\.0\.0: failed its health check/.test(s.lastCheckResult ?? ''));
  const s = await status();
  expect(s).toMatchObject({ booted: { slot: 'b', version: '2.0.0', state: 'good' }, other: { slot: 'a', version: '3.0.0', state: 'bad' }, failedVersions: ['3.0.0'], lockHeld: false, staged: null });
  expect(s.lastError).toMatch(/3\.0\.0 failed its health gate and ran out of tries: rolled back to 2\.0\.0/);
  expect((await stat(join(slots, 'slot-a.img'))).mtimeMs).toBe(slotA.mtimeMs);
  expect(await lockHolders()).toEqual([]);
  const rollback = await execa(keel, ['update', 'rollback', '--root', root], { reject: false });
  expect(rollback.exitCode).toBe(1);
  expect(rollback.stderr).toMatch(/slot a holds nothing bootable/);
});

test('killed during the download: the next boot is v2 again and the agent resumes', async () => {
  images['4.0.0'] = await publish(join(work, 'repo'), work, key.signer, '4.0.0', { size: 48 << 20 });
  await writeFile(join(root, 'run/keel/update.conf'), `SERVER=${slow.url}/repo\n`); // a runtime override
  const child = agent();
  for (let i = 0; i < 300; i++) {
    const s = await status();
    if (s.download && s.download.written > 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  await child;
  const killed = await status();
  expect(killed).toMatchObject({ other: { slot: 'a', version: '4.0.0', state: 'partial' }, download: { version: '4.0.0', length: 48 << 20 } });
  expect(killed.download.written).toBeLessThan(48 << 20);
  expect(await boot()).toMatchObject({ slot: 'b', version: '2.0.0' }); // slot a's entry went before the write began
  await writeFile(join(root, 'run/keel/update.conf'), `SERVER=${slow.url}/repo\n`);
  expect(await health()).toBe(0);
  const rangesBefore = slow.rangeRequests;
  await runUntilReboot();
  expect(slow.rangeRequests).toBeGreaterThan(rangesBefore);
  expect(Buffer.compare(await readFile(join(slots, 'slot-a.img')), images['4.0.0']!)).toBe(0);
  expect(await status()).toMatchObject({ booted: { slot: 'b', version: '2.0.0' }, other: { slot: 'a', version: '4.0.0', state: 'trying' }, staged: '4.0.0', download: null });
});
