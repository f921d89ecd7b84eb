// dm-verity under every slot (issue 15), in qemu (UEFI, systemd-boot with boot counting), one
// guest and one disk through three steps that share its boots:
//   a. the image boots with `/` on the dm-verity target the initramfs made from slot A's boot
//      entry (keel.verity=), and says so in /run/keel/boot.env;
//   b. the update agent writes v2 into slot B through keel's real update path (signed metadata
//      whose manifest carries the root hash, veritysetup verify, a `+3` boot entry with v2's
//      keel.verity=) and reboots; v2 passes its health gate in B and is blessed (its entry armed
//      again with fresh tries: every boot counts); the guest is powered off and the test flips
//      one byte of B's filesystem; every boot of B then stops at the first read of that block
//      (the kernel restarts: restart_on_corruption), its tries run out, A boots by itself and
//      `keel update status` reports v2 as failed;
//   c. v3 written into B and, before its first boot, one flipped byte in B's hash tree: the same.
// The slot B the agent wrote is checked with `veritysetup verify` before each flip, so the boot
// fails because of the flip and for no other reason. The releases are the release's tree with
// another version file and the current keel, made by images/make-slot.sh (verity included) and
// described by images/manifest.sh: no image rebuild. Needs `make image` (build/release) and root.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { cp, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { repoRoot, startVm, type Vm } from '../harness/qemu.js';
import { testSshKey } from '../harness/ssh.js';
import { generateKeyPairPem, signingKeyOfPem } from '../../src/update/signing-key.js';
import { serveDirectory, type StaticServer } from '../integration/update/static-server.js';
import { espList, partition } from './image-boot.js';
import { updateStatus, waitUpdateStatus } from './update-status.js';
import { flipByte } from '../harness/flip-byte.js';
import { extractTree, makeRelease, publishVersion, type MadeRelease } from './releases.js';

const release = join(repoRoot, 'build/release');
const v = { v1: '91.1.0', v2: '91.2.0', v3: '91.3.0' };
const gateway = '10.0.2.2';
const minute = 60_000;
const t0 = Date.now();
const pair = generateKeyPairPem();
const key = signingKeyOfPem(pair.privatePem);

let work: string;
let disk: string;
let vm: Vm | undefined;
let server: StaticServer;
/** v1..v3 from the release's tree (releases.ts); v1 is the disk's slot a. */
const releases: Record<string, MadeRelease> = {};
/** v2's and v3's releases, made while the guest boots v1 (the other core is idle then). */
let laterSlots: Promise<void>;

const esc = (s: string) => s.replace(/\./g, '\\.');
const since = () => `${((Date.now() - t0) / 1000).toFixed(0)} s`;

/** The release of `version` from the release's tree (releases.ts: erofs + dm-verity, manifest.sh's manifest). */
async function makeSlot(tree: string, version: string): Promise<string> {
  releases[version] = await makeRelease(work, tree, version, false);
  return join(releases[version].bundleDir, 'slot.img');
}

const publish = (version: string) => publishVersion(join(work, 'repo'), key, releases[version]!);
const verity = (version: string) => releases[version]!.verity;

const waitStatus = (what: string, done: (s: any) => boolean, timeoutMs: number) => waitUpdateStatus(vm!, what, done, timeoutMs);

/**
 * Publishes `version`, lets the agent write it into slot B and reboot, and stops the guest
 * there (the reboot ends qemu). Returns B's byte offset on the disk (checkSlotB).
 */
async function updateToB(version: string): Promise<number> {
  await laterSlots;
  vm!.options.onReboot = 'stop';
  await publish(version);
  await vm!.waitFor(/reboot: Restarting system/, { timeoutMs: 15 * minute });
  await vm!.waitExit({ timeoutMs: 2 * minute });
  process.stderr.write(`verity e2e: ${version} written into slot b, guest off at ${since()}\n`);
  return checkSlotB(version, `keel-${version}+3.conf`);
}

/**
 * With the guest off: B's entry `entryName` carries the release's own root hash, and B
 * verifies against it. Returns B's byte offset on the disk.
 */
async function checkSlotB(version: string, entryName: string): Promise<number> {
  const { rootHash, hashOffset } = verity(version);
  const { offset: espAt } = await partition(disk, 'EFI-SYSTEM');
  expect(await espList(disk, '/loader/entries')).toContain(entryName);
  const entry = (await execa('mtype', ['-i', `${disk}@@${espAt}`, `::/loader/entries/${entryName}`], { env: { MTOOLS_SKIP_CHECK: '1' } })).stdout;
  expect(entry).toMatch(new RegExp(`^options .*keel\\.slot=b`, 'm'));
  expect(entry).toMatch(new RegExp(`^options .*keel\\.verity=${rootHash} keel\\.verity\\.hashoffset=${hashOffset}\\b`, 'm'));
  expect(entry).not.toContain(verity(v.v1).rootHash);
  const { offset } = await partition(disk, 'keel-root-b');
  // The slot as written verifies against the release's root hash (on a copy of its bytes: no
  // loop device needed), so what stops B's boots below is the flipped byte and nothing else.
  const copy = join(work, 'slot-b.part');
  await execa('dd', [`if=${disk}`, `of=${copy}`, 'bs=1M', `skip=${offset}`, `count=${(await stat(join(releases[version]!.bundleDir, 'slot.img'))).size}`, 'iflag=skip_bytes,count_bytes', 'status=none']);
  await execa('veritysetup', ['verify', copy, copy, rootHash, `--hash-offset=${hashOffset}`]);
  await rm(copy);
  return offset;
}

/** Boots the disk again: every try of B ends in a verity restart, then A (v1) comes up by itself. */
async function bootsBackToA(corrupted: RegExp): Promise<void> {
  vm!.options.onReboot = 'restart';
  await vm!.restart();
  for (let i = 0; i < 3; i++) {
    await vm!.waitFor(/keel-initramfs: .*verity: \S+ mapped as/, { timeoutMs: 6 * minute });
    await vm!.waitFor(corrupted, { timeoutMs: 3 * minute });
    await vm!.waitFor(/reboot: Restarting system with command 'dm-verity device corrupted'/, { timeoutMs: 2 * minute });
  }
  await vm!.waitFor(new RegExp(`keel-boot: ready slot=a version=${esc(v.v1)}`), { timeoutMs: 10 * minute });
  process.stderr.write(`verity e2e: three boots of b stopped by dm-verity, a ready at ${since()}\n`);
}

beforeAll(async () => {
  for (const f of ['slot.img', 'slot.img.verity.json', 'vmlinuz', 'initramfs.img', 'manifest.json'])
    if (!existsSync(join(release, f))) throw new Error(`build/release/${f} is missing: run make image`);
  work = await mkdtemp(join(tmpdir(), 'keel-e2e-verity-'));
  server = await serveDirectory(work);
  await execa('make', ['-s', 'keel-sea'], { cwd: repoRoot });
  const tree = await extractTree(work);
  for (const unit of ['keel-update.service', 'keel-health-check.service']) await cp(join(repoRoot, 'images/units', unit), join(tree, 'usr/lib/systemd/system', unit));
  await execa('systemctl', ['--root', tree, 'enable', 'keel-update.service', 'keel-health-check.service']);
  await writeFile(join(tree, 'usr/lib/keel/update-trust.pub'), pair.publicPem);
  // `reboot`: no lock to take, the agent reboots as soon as the slot is written.
  await writeFile(
    join(tree, 'usr/lib/keel/update.conf'),
    `REBOOT_STRATEGY=reboot\nSERVER=http://${gateway}:${Number(new URL(server.url).port)}/repo\nTRUST_KEY=/usr/lib/keel/update-trust.pub\nCHECK_INTERVAL_MINUTES=1\nPOSTPONE_WHILE_LOGGED_IN=false\n`,
  );
  // Slow DHCP under TCG must not fail the health gate (as in update.test.ts).
  const waitOnline = join(tree, 'etc/systemd/system/systemd-networkd-wait-online.service.d');
  await mkdir(waitOnline, { recursive: true });
  await writeFile(join(waitOnline, 'zz-e2e-slow.conf'), '[Service]\nExecStart=\nExecStart=-/lib/systemd/systemd-networkd-wait-online --any --timeout=900\n');
  await mkdir(join(tree, 'root/.ssh'), { recursive: true, mode: 0o700 });
  await writeFile(join(tree, 'root/.ssh/authorized_keys'), `${testSshKey().publicKey}\n`, { mode: 0o600 });
  const v1 = await makeSlot(tree, v.v1);
  disk = join(work, 'disk.img');
  await execa('nice', [join(repoRoot, 'images/make-disk.sh'), disk, v1, join(release, 'vmlinuz'), join(release, 'initramfs.img'), join(tree, 'usr/lib/systemd/boot/efi/systemd-bootx64.efi'), v.v1, join(tree, 'etc/mke2fs.conf')]);
  // The raw disk itself (no overlay): the test flips bytes in it while the guest is off.
  vm = await startVm({ name: 'verity-e2e', boot: { kind: 'uefi' }, disks: [{ file: disk, format: 'raw' }], memoryMiB: 768, net: { ssh: true, restrict: false } });
  laterSlots = (async () => {
    await makeSlot(tree, v.v2);
    await makeSlot(tree, v.v3);
    await rm(tree, { recursive: true, force: true });
  })();
  laterSlots.catch(() => undefined); // awaited (and reported) by the step that needs them
}, 15 * minute);

afterAll(async () => {
  await laterSlots?.catch(() => undefined);
  await vm?.close();
  await server?.close();
  if (work) await rm(work, { recursive: true, force: true });
  process.stderr.write(`verity e2e: ${since()} in all\n`);
});

test('a. the image boots with / on dm-verity, under slot A\'s root hash', async () => {
  const { rootHash, salt } = verity(v.v1);
  await vm!.waitFor(new RegExp(`keel-initramfs: .*verity: /dev/\\S+ mapped as /dev/mapper/keel-root, root hash ${rootHash}`), { timeoutMs: 6 * minute });
  await vm!.waitFor(new RegExp(`keel-boot: ready slot=a version=${esc(v.v1)}`), { timeoutMs: 10 * minute });
  process.stderr.write(`verity e2e: a ready at ${since()}\n`);
  const sh = async (cmd: string) => (await vm!.ssh(cmd)).stdout.trim();
  expect(await sh('findmnt -no SOURCE /')).toBe('/dev/mapper/keel-root');
  // dmsetup's verity table: version, devices, block sizes, blocks, hash start, algorithm, digest, salt, options.
  expect(await sh('dmsetup table keel-root')).toMatch(new RegExp(`^0 \\d+ verity 1 \\S+ \\S+ 4096 4096 \\d+ \\d+ sha256 ${rootHash} ${salt} 1 restart_on_corruption$`));
  expect(await sh('cat /run/keel/boot.env')).toMatch(new RegExp(`^VERITY=${rootHash}$`, 'm'));
  expect(await sh('cat /proc/cmdline')).toContain(`keel.verity=${rootHash}`);
  // The agent reports the booted slot's protection (its root hash) in its status.
  expect(JSON.stringify(await updateStatus(vm!))).toContain(rootHash);
}, 20 * minute);

test('b. v2 boots from slot B and is blessed; then one flipped byte in B\'s filesystem: B stops booting, A comes back by itself, status reports v2 failed', async () => {
  await laterSlots;
  vm!.options.onReboot = 'restart';
  await publish(v.v2);
  // The agent writes v2 into B and reboots; v2 passes its gate there and its entry is armed
  // with fresh tries (every boot counts, src/update/counted-boots.ts).
  await vm!.waitFor(new RegExp(`keel-boot: ready slot=b version=${esc(v.v2)}`), { timeoutMs: 20 * minute });
  await waitStatus('v2 blessed in slot b', (x) => x.agentState === 'steady' && x.booted?.slot === 'b' && x.booted.version === v.v2 && x.booted.state === 'good', 5 * minute);
  expect((await vm!.ssh('ls /boot/loader/entries')).stdout.split('\n').filter(Boolean).sort()).toEqual([`keel-${v.v1}+3-0.conf`, `keel-${v.v2}+3-0.conf`]);
  process.stderr.write(`verity e2e: v2 blessed in slot b at ${since()}\n`);
  vm!.options.onReboot = 'stop';
  await vm!.powerdown();
  await vm!.waitExit({ timeoutMs: 2 * minute });
  const b = await checkSlotB(v.v2, `keel-${v.v2}+3-0.conf`);
  // Byte 1024 is erofs's superblock (its magic): blkid and mount read that block before anything
  // else of the slot, so the first read through dm-verity meets the flipped byte.
  await flipByte(disk, b + 1024);
  await bootsBackToA(/device-mapper: verity: \S+: data block 0 is corrupted/);
  const s = await waitStatus('v2 reported failed', (x) => x.agentState === 'steady' && (x.failedVersions ?? []).includes(v.v2), 5 * minute);
  expect(s).toMatchObject({ booted: { slot: 'a', version: v.v1 }, other: { slot: 'b', version: v.v2, state: 'bad' }, failedVersions: [v.v2] });
  expect(s.lastError).toMatch(new RegExp(`${esc(v.v2)} failed its health gate and ran out of tries: rolled back to ${esc(v.v1)}`));
}, 45 * minute);

test('c. one flipped byte in slot B\'s hash tree: the same, for v3', async () => {
  const b = await updateToB(v.v3);
  // The hash area starts with veritysetup's superblock (one 4096-byte block), then the tree's top
  // level: every block read is checked through that block, so the first read of the slot meets it.
  await flipByte(disk, b + verity(v.v3).hashOffset + 4096 + 7);
  await bootsBackToA(/device-mapper: verity: \S+: metadata block \d+ is corrupted/);
  const s = await waitStatus('v3 reported failed', (x) => x.agentState === 'steady' && (x.failedVersions ?? []).includes(v.v3), 5 * minute);
  expect(s).toMatchObject({ booted: { slot: 'a', version: v.v1 }, other: { slot: 'b', version: v.v3, state: 'bad' }, failedVersions: [v.v2, v.v3] });
}, 40 * minute);

test('d. a command line without keel.verity= does not mount the slot at all', async () => {
  // The same guest and disk, booted directly with the image's kernel and initramfs.
  const append = (await readFile(join(repoRoot, 'build/kernel-cmdline'), 'utf8')).replace(/ keel\.verity=\S+| keel\.verity\.hashoffset=\S+/g, '').trim();
  vm!.options.onReboot = 'stop';
  await vm!.restart({ boot: { kind: 'direct', kernel: join(release, 'vmlinuz'), initrd: join(release, 'initramfs.img'), append } });
  const refused = await vm!.waitFor(/keel-initramfs: .*error: no keel\.verity= on the kernel command line; the OS slot \S+ is mounted only through dm-verity .*refusing to boot it/, { timeoutMs: 6 * minute });
  // fail(): the initramfs reboots after 10 s, and mounts nothing before that.
  await vm!.waitExit({ timeoutMs: 2 * minute });
  expect(vm!.serial.find(/keel-initramfs: .*(slot mounted|switching to)/, refused.index)).toBeUndefined();
}, 10 * minute);
