import { afterAll, beforeAll, expect, test } from 'vitest';
import { appendFile, chmod, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { makeKey, publish, tempDir } from '../../unit/update/fixture.js';
import { bootOnce, makeHostTree } from './boot-tree.js';
import { serveDirectory, type StaticServer } from './static-server.js';
import { agentRunner } from './agent-run.js';

// Every boot is counted (src/update/counted-boots.ts): the agent (`./bin/keel update agent`,
// REBOOT_STRATEGY=reboot, a real HTTP repository) on a host kept as a directory tree, booted by
// bootOnce (systemd-boot's choice and counting). A slot that passed its gate gets fresh tries;
// when it later stops booting before the gate (what a block dm-verity refuses does: the kernel
// restarts), its tries run out, the other slot boots by itself and the agent records the
// version failed. A health gate failing on a blessed slot is reported, never rebooted for.
const key = makeKey();
let work: string;
let root: string;
let slots: string;
const { agent, status, reboots, runUntil, health } = agentRunner(() => ({ root, slots }));
let server: StaticServer;

const entries = async () => (await readdir(join(root, 'boot/loader/entries'))).sort();

beforeAll(async () => {
  work = await tempDir('keel-counted-');
  root = join(work, 'root');
  slots = join(work, 'slots');
  await mkdir(slots, { recursive: true });
  server = await serveDirectory(work);
  const v1 = await publish(join(work, 'repo'), work, key.signer, '1.0.0');
  await makeHostTree(root, '1.0.0', {
    'usr/lib/keel/update-trust.pub': key.publicPem,
    'etc/machine-id': 'node-1\n',
    'etc/keel/update.conf': `REBOOT_STRATEGY=reboot\nSERVER=${server.url}/repo\nCHECK_INTERVAL=1s\nPOSTPONE_WHILE_LOGGED_IN=false\n`,
    'reboot.sh': '#!/bin/sh\necho reboot >> "$(dirname "$0")/reboots"\nkill -KILL $PPID\n',
  });
  await chmod(join(root, 'reboot.sh'), 0o755);
  await writeFile(join(slots, 'slot-a.img'), v1);
});

afterAll(async () => {
  await server?.close();
  await rm(work, { recursive: true, force: true });
});

test('a good boot arms its entry with fresh tries, the image\'s first one included', async () => {
  expect(await bootOnce(root)).toMatchObject({ slot: 'a', version: '1.0.0', entry: 'keel-1.0.0.conf' });
  expect(await health()).toBe(0);
  await runUntil((s) => s.agentState === 'steady' && /newest/.test(s.lastCheckResult ?? ''));
  expect(await entries()).toEqual(['keel-1.0.0+3-0.conf']);
  expect(await status()).toMatchObject({ booted: { slot: 'a', version: '1.0.0', state: 'good' } });
  // The next boot counts (+2-1) and is no trial: passing the gate arms it again.
  expect(await bootOnce(root)).toMatchObject({ slot: 'a', entry: 'keel-1.0.0+3-0.conf' });
  expect(await entries()).toEqual(['keel-1.0.0+2-1.conf']);
  expect(await health()).toBe(0);
  expect((await status()).booted.state).toBe('trying'); // this boot is counted, not yet through its gate
  await runUntil((s) => s.agentState === 'steady' && s.booted.state === 'good');
  expect(await entries()).toEqual(['keel-1.0.0+3-0.conf']);
});

test('v2 passes its gate in slot b and is armed; a failing gate on that blessed slot is reported, not rebooted for', async () => {
  await publish(join(work, 'repo'), work, key.signer, '2.0.0');
  const before = await reboots();
  const run = await agent(); // finds 2.0.0, writes slot b, reboots (the script kills it)
  expect(run.signal, run.stderr).toBe('SIGKILL');
  expect(await reboots()).toBe(before + 1);
  expect(await bootOnce(root)).toMatchObject({ slot: 'b', version: '2.0.0', entry: 'keel-2.0.0+3.conf' });
  expect(await health()).toBe(0);
  await runUntil((s) => s.agentState === 'steady' && s.booted.state === 'good');
  expect(await entries()).toEqual(['keel-1.0.0+3-0.conf', 'keel-2.0.0+3-0.conf']);

  // A boot of the blessed v2 whose gate fails: the agent says so and stays up.
  expect(await bootOnce(root)).toMatchObject({ slot: 'b', version: '2.0.0' });
  const check = join(root, 'usr/lib/keel/health.d/50-broken');
  await mkdir(join(check, '..'), { recursive: true });
  await writeFile(check, '#!/bin/sh\necho "broken for now" >&2\nexit 1\n');
  await chmod(check, 0o755);
  expect(await health()).toBe(1);
  const rebooted = await reboots();
  await runUntil((s) => /the health gate failed on 2\.0\.0, a blessed slot/.test(s.lastError ?? ''));
  expect(await reboots()).toBe(rebooted);
  await rm(check);
  expect(await entries()).toEqual(['keel-1.0.0+3-0.conf', 'keel-2.0.0+2-1.conf']);
});

test('the blessed v2 stops booting before its gate: its tries run out, slot a boots by itself, v2 is recorded failed', async () => {
  // Two more boots of b end before the gate (as a dm-verity restart does); the last try was above.
  for (let i = 0; i < 2; i++) expect(await bootOnce(root)).toMatchObject({ slot: 'b', version: '2.0.0' });
  expect(await entries()).toEqual(['keel-1.0.0+3-0.conf', 'keel-2.0.0+0-3.conf']);
  expect(await bootOnce(root)).toMatchObject({ slot: 'a', version: '1.0.0' });
  expect(await health()).toBe(0);
  await runUntil((s) => s.agentState === 'steady' && s.failedVersions.includes('2.0.0') && /skipped 2\.0\.0: failed/.test(s.lastCheckResult ?? ''));
  const s = await status();
  expect(s).toMatchObject({ booted: { slot: 'a', version: '1.0.0', state: 'good' }, other: { slot: 'b', version: '2.0.0', state: 'bad' }, failedVersions: ['2.0.0'], staged: null });
  expect(s.lastError).toMatch(/2\.0\.0 failed its health gate and ran out of tries: rolled back to 1\.0\.0 in slot a/);
  expect(await entries()).toEqual(['keel-1.0.0+3-0.conf', 'keel-2.0.0+0-3.conf']);
});

test('BOOT_TRIES=1: a new slot gets one try; its gate fails, one reboot brings the previous slot back', async () => {
  await appendFile(join(root, 'etc/keel/update.conf'), 'BOOT_TRIES=1\n');
  await publish(join(work, 'repo'), work, key.signer, '3.0.0');
  const run = await agent(); // arms the running slot with the tries now configured; finds 3.0.0, writes slot b with a one-try entry, reboots
  expect(run.signal, run.stderr).toBe('SIGKILL');
  expect(await entries()).toEqual(['keel-1.0.0+1-0.conf', 'keel-3.0.0+1.conf']);
  expect(await bootOnce(root)).toMatchObject({ slot: 'b', version: '3.0.0', entry: 'keel-3.0.0+1.conf' });
  expect(await entries()).toEqual(['keel-1.0.0+1-0.conf', 'keel-3.0.0+0-1.conf']);
  const check = join(root, 'usr/lib/keel/health.d/50-broken');
  await writeFile(check, '#!/bin/sh\necho "3.0.0 is broken" >&2\nexit 1\n');
  await chmod(check, 0o755);
  expect(await health()).toBe(1);
  const before = await reboots();
  const unhealthy = await agent(); // the trial failed its gate: one reboot
  expect(unhealthy.signal, unhealthy.stderr).toBe('SIGKILL');
  expect(await reboots()).toBe(before + 1);
  await rm(check);
  expect(await bootOnce(root)).toMatchObject({ slot: 'a', version: '1.0.0' });
  expect(await health()).toBe(0);
  await runUntil((s) => s.agentState === 'steady' && s.failedVersions.includes('3.0.0'));
  expect(await status()).toMatchObject({ booted: { slot: 'a', version: '1.0.0', state: 'good' }, other: { slot: 'b', version: '3.0.0', state: 'bad' } });
  expect(await entries()).toEqual(['keel-1.0.0+1-0.conf', 'keel-3.0.0+0-1.conf']);
});
