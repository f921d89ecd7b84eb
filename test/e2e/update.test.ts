// The A/B update agent in qemu (UEFI, systemd-boot with boot counting), killed in the middle of
// a download: v1 finds v2 and starts writing slot b from a slow repository; qemu is killed; the
// VM boots v1 again and the agent resumes the download (HTTP Range), takes the etcd lock,
// reboots into v2, passes the health gate (systemd-bless-boot drops the counter, the agent
// arms the entry again) and releases the lock. Through it, a file written under /etc on v1
// stays, and a container counting its starts in a named volume keeps counting. Last, a
// `keel update rollback` (loader.conf on the ESP) just before qemu is killed is on the disk whole.
// The repository is served from 127.0.0.1 and a real etcd runs on the host; the guest reaches
// both at qemu's user-mode gateway 10.0.2.2. v1 and v2 are the release's slot image re-packed
// by releases.ts (images/make-slot.sh: erofs + dm-verity) with a different version file and
// the current keel executable: no image rebuild. The update settings are baked into the slots
// as the image's defaults (/usr/lib/keel/update.conf, the pinned /usr/lib/keel/update-trust.pub,
// /etc/keel/lock.conf) and root's SSH key into /root (seeded onto the state partition on first
// boot), so the test does not depend on a datasource. An update by delta, a release whose
// health gate fails (rolled back, never retried) and the etcd-lock roll of several hosts are
// in cluster.test.ts, on hosts that run their own etcd. Needs `make image` (build/release) and root.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { repoRoot, startVm, type Vm } from '../harness/qemu.js';
import { testSshKey } from '../harness/ssh.js';
import { startEtcd, type EtcdCluster } from '../harness/etcd.js';
import { openRebootLock } from '../../src/lock/open-reboot-lock.js';
import { generateKeyPairPem, signingKeyOfPem } from '../../src/update/signing-key.js';
import { serveDirectory, type StaticServer } from '../integration/update/static-server.js';
import { extractTree, makeRelease, publishVersion, releaseDir as release, type MadeRelease } from './releases.js';
import { waitUpdateStatus } from './update-status.js';
import { partition, rawCopy } from './image-boot.js';

const v = { v1: '90.1.0', v2: '90.2.0' };
// The guest reaches the host's loopback at qemu's user-mode gateway (guestfwd carries one
// connection at a time, which gRPC and HTTP both outgrow).
const gateway = '10.0.2.2';
let repoPort = 0;
let etcdPort = 0;
const minute = 60_000;
const esc = (s: string) => s.replace(/\./g, '\\.');

let work: string;
let vm: Vm | undefined;
let etcd: EtcdCluster;
let server: StaticServer;
/** The repository serves v2's slot at 2 MiB/s until the VM has been killed during its download. */
let slow = true;
/** v1 and v2 made from the release's tree (releases.ts); v1 is the disk's slot a. */
const releases: Record<string, MadeRelease> = {};
const repoDir = () => join(work, 'repo');
const pair = generateKeyPairPem();
const key = signingKeyOfPem(pair.privatePem);

/** The counter container's count (the named volume on the state partition), once it has one. */
async function count(atLeast: number): Promise<number> {
  const end = Date.now() + 10 * minute;
  for (;;) {
    const n = Number((await vm!.ssh('cat /var/lib/containers/storage/volumes/counter/_data/count 2>/dev/null || echo 0').catch(() => ({ stdout: '0' }))).stdout.trim());
    if (n >= atLeast) return n;
    if (Date.now() > end) throw new Error(`the counter container's count stayed ${n}, expected at least ${atLeast}`);
    await new Promise((r) => setTimeout(r, 5000));
  }
}

const waitStatus = (what: string, done: (s: any) => boolean, timeoutMs: number) => waitUpdateStatus(vm!, what, done, timeoutMs);

async function lockHolders(): Promise<string[]> {
  const lock = openRebootLock({ endpoints: etcd.endpoints });
  try {
    return (await lock.status()).holders.map((h) => h.id);
  } finally {
    await lock.close();
  }
}

beforeAll(async () => {
  for (const f of ['slot.img', 'vmlinuz', 'initramfs.img', 'manifest.json'])
    if (!existsSync(join(release, f))) throw new Error(`build/release/${f} is missing: run make image`);
  work = await mkdtemp(join(tmpdir(), 'keel-e2e-update-'));
  etcd = await startEtcd();
  server = await serveDirectory(work, {
    rateFor: (path) => (slow && path.includes(`/${v.v2}/slot.img`) ? 2 << 20 : undefined),
  });
  etcdPort = Number(new URL(etcd.endpoints[0]!).port);
  repoPort = Number(new URL(server.url).port);
  await execa('make', ['-s', 'keel-sea'], { cwd: repoRoot });
  const tree = await extractTree(work);
  // The update units as images/units has them now (the release may predate them).
  for (const unit of ['keel-update.service', 'keel-health-check.service']) await cp(join(repoRoot, 'images/units', unit), join(tree, 'usr/lib/systemd/system', unit));
  await execa('systemctl', ['--root', tree, 'enable', 'keel-update.service', 'keel-health-check.service']);
  await writeFile(join(tree, 'usr/lib/keel/update-trust.pub'), pair.publicPem);
  await writeFile(
    join(tree, 'usr/lib/keel/update.conf'),
    `REBOOT_STRATEGY=etcd-lock\nSERVER=http://${gateway}:${repoPort}/repo\nTRUST_KEY=/usr/lib/keel/update-trust.pub\nCHECK_INTERVAL_MINUTES=1\nPOSTPONE_WHILE_LOGGED_IN=false\n`,
  );
  await mkdir(join(tree, 'etc/keel'), { recursive: true });
  await writeFile(join(tree, 'etc/keel/lock.conf'), `ENDPOINTS=http://${gateway}:${etcdPort}\n`);
  // Under TCG on a loaded machine DHCP can take longer than the image's wait-online limit
  // (20 s), and a failed wait-online fails the health gate (no failed units): in this test
  // wait as long as a slow boot needs and never fail (sorts after the image's drop-in).
  const waitOnline = join(tree, 'etc/systemd/system/systemd-networkd-wait-online.service.d');
  await mkdir(waitOnline, { recursive: true });
  await writeFile(join(waitOnline, 'zz-e2e-slow.conf'), '[Service]\nExecStart=\nExecStart=-/lib/systemd/systemd-networkd-wait-online --any --timeout=900\n');
  // A container that counts its starts in a named volume (on the state partition); userns host
  // keeps the volume's owner the same at every start.
  await mkdir(join(tree, 'etc/keel/containers'), { recursive: true });
  await writeFile(
    join(tree, 'etc/keel/containers/counter.yaml'),
    'name: counter\nimage: localhost/keel/demo-web:1\nuserns: host\nvolumes: ["counter:/data"]\n' +
      'command: "n=$(cat /data/count 2>/dev/null || echo 0); n=$((n+1)); echo $n > /data/count; echo counter=$n; exec sleep 2147483647"\n',
  );
  await mkdir(join(tree, 'root/.ssh'), { recursive: true, mode: 0o700 });
  await writeFile(join(tree, 'root/.ssh/authorized_keys'), `${testSshKey().publicKey}\n`, { mode: 0o600 });
  for (const [name, version] of Object.entries(v)) releases[name] = await makeRelease(work, tree, version, false);
  // The disk: the image's layout with v1 in slot a (images/make-disk.sh, as make image does).
  await execa('nice', [join(repoRoot, 'images/make-disk.sh'), join(work, 'disk.img'), join(releases.v1!.bundleDir, 'slot.img'), join(release, 'vmlinuz'), join(release, 'initramfs.img'), join(tree, 'usr/lib/systemd/boot/efi/systemd-bootx64.efi'), v.v1, join(tree, 'etc/mke2fs.conf')]);
  // Room for the state partition to grow into on first boot (as on a real disk): a delta needs
  // its base's size there, the spool its payload's.
  await execa('truncate', ['-s', '+1G', join(work, 'disk.img')]);
  vm = await startVm({
    name: 'update-e2e',
    boot: { kind: 'uefi' },
    disks: [{ image: join(work, 'disk.img') }],
    memoryMiB: 1024,
    net: { ssh: true, restrict: false },
  });
}, 30 * minute);

afterAll(async () => {
  await vm?.close();
  await server?.close();
  await etcd?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

test('killed during the download: the VM boots v1 again, the agent resumes it and moves on to v2', async () => {
  await vm!.waitFor(new RegExp(`keel-boot: ready slot=a version=${esc(v.v1)}`), { timeoutMs: 12 * minute });
  // A host change under /etc (the overlay's upper, on state) before anything is offered.
  const machineId = (await vm!.ssh('cat /etc/machine-id; echo e2e-etc-survives > /etc/keel-e2e-marker')).stdout.trim();
  expect(machineId).toMatch(/^[0-9a-f]{32}$/);
  const first = await count(1);
  // The raw slot only (no delta, no zstd payload): 200 MiB at 2 MiB/s leaves time to kill it.
  await publishVersion(repoDir(), key, releases.v2!);
  const during = await waitStatus('v2 downloading', (x) => x.download?.version === v.v2 && x.download.written > 0, 5 * minute);
  expect(during).toMatchObject({ other: { slot: 'b', version: v.v2, state: 'partial' } });
  await vm!.kill();
  const rangesBefore = server.rangeRequests;
  await vm!.restart();
  await vm!.waitFor(new RegExp(`keel-boot: ready slot=a version=${esc(v.v1)}`), { timeoutMs: 10 * minute });
  const after = await waitStatus('partial v2 kept', (x) => x.download?.version === v.v2 || x.staged === v.v2 || x.agentState === 'rebooting', 5 * minute);
  expect(after.booted).toMatchObject({ slot: 'a', version: v.v1 });
  slow = false;
  await vm!.waitFor(new RegExp(`keel-boot: ready slot=b version=${esc(v.v2)}`), { timeoutMs: 15 * minute });
  expect(server.rangeRequests).toBeGreaterThan(rangesBefore);
  const s = await waitStatus('v2 marked good', (x) => x.agentState === 'steady' && x.booted.state === 'good' && x.lockHeld === false, 5 * minute);
  expect(s).toMatchObject({ booted: { slot: 'b', version: v.v2, state: 'good' }, other: { slot: 'a', version: v.v1, state: 'good' }, staged: null, failedVersions: [] });
  // Blessed by systemd-bless-boot, then armed with fresh tries by the agent (every boot counts).
  expect((await vm!.ssh('ls /boot/loader/entries')).stdout.split('\n').filter(Boolean).sort()).toEqual([`keel-${v.v1}+3-0.conf`, `keel-${v.v2}+3-0.conf`]);
  expect((await vm!.ssh('journalctl -b -1 -u keel-update --no-pager -o cat')).stdout).toMatch(/took the reboot lock/);
  expect(await lockHolders()).toEqual([]);
  expect((await vm!.ssh('cat /etc/keel-e2e-marker')).stdout.trim()).toBe('e2e-etc-survives');
  // The volume is on the state partition: the count went on through the kill and the update.
  await count(first + 2);
}, 40 * minute);

test('a boot setting written just before a power cut is whole after it: keel update rollback, qemu killed at once', async () => {
  // FAT (the ESP) writes a renamed file's entry with no size and no clusters until the file's
  // inode is written back, seconds later; the crash-safe write fsyncs the file under its new
  // name too (crash-safe-write.ts). Without that, this loader.conf read back empty or old.
  const next = JSON.parse((await vm!.ssh('keel update rollback --json')).stdout) as { nextBoot: { slot: string; version: string } };
  expect(next.nextBoot).toMatchObject({ slot: 'a', version: v.v1 });
  await vm!.kill();
  const { raw, done } = await rawCopy(vm!.diskFile(0));
  try {
    const { offset } = await partition(raw, 'EFI-SYSTEM');
    const conf = (await execa('mtype', ['-i', `${raw}@@${offset}`, '::/loader/loader.conf'], { env: { MTOOLS_SKIP_CHECK: '1' } })).stdout;
    expect(conf).toMatch(new RegExp(`^default keel-${esc(v.v1)}\\.conf$`, 'm'));
    expect(conf).toMatch(/^timeout 0$/m);
  } finally {
    done();
  }
}, 10 * minute);
