// Containers at first boot, in qemu: a cloud-config with two containers (app requires db)
// and the busybox image as an archive put in /var/lib/keel/images (no registry: the
// guest has no way out). After the first boot both run, db before app, started by
// keel-supervisor; after a reboot they run again, in the same order, from the specs that
// cloud-config wrote once. The slot is the release's tree with the current keel executable
// and keel-supervisor.service (no full image rebuild), as test/e2e/update.test.ts does.
// Needs `make image` (build/release) and root.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { chmod, cp, mkdtemp, readFile, rm, stat, truncate } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { repoRoot, startVm, type Vm } from '../harness/qemu.js';
import { testSshKey } from '../harness/ssh.js';
import { buildBusyboxArchive, testImage } from '../integration/containers/guest.js';

const release = join(repoRoot, 'build/release');
const minute = 60_000;
let work: string;
let vm: Vm | undefined;

// The image archive comes on a disk of its own (the archive is the disk's raw content): as
// write_files it would pass the 1 MiB cloud-config limit. runcmd copies it into place before
// keel-supervisor starts (it is ordered after keel-cloudinit).
const userData = () => `#cloud-config
hostname: containers-node
ssh_authorized_keys:
  - ${testSshKey().publicKey}
runcmd:
  - mkdir -p /var/lib/keel/images && cp /dev/disk/by-id/virtio-keelimages /var/lib/keel/images/busybox.tar
keel:
  containers:
    specs:
      - name: db
        image: ${testImage}
        command: [sh, -c, 'echo db up; exec sleep 100000']
        restart: always
      - name: app
        image: ${testImage}
        command: [sh, -c, 'echo app up; exec sleep 100000']
        requires: [db]
        restart: always
`;

interface Row {
  name: string;
  state: string;
}

async function ssh(command: string): Promise<string> {
  return (await vm!.ssh(command, { user: 'core', commandTimeoutMs: 2 * minute })).stdout;
}

/** Polls `keel containers list` in the guest until db and app are both active. */
async function bothActive(timeoutMs: number): Promise<Row[]> {
  const end = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < end) {
    last = await ssh('sudo -n keel containers list --json').catch((e: Error) => e.message);
    try {
      const rows = JSON.parse(last) as Row[];
      if (['db', 'app'].every((n) => rows.find((r) => r.name === n)?.state === 'active')) return rows;
    } catch {}
    await new Promise((r) => setTimeout(r, 3000));
  }
  const journal = await ssh('sudo -n journalctl -b -u keel-supervisor -u keel-cloudinit --no-pager -o cat | tail -60').catch(() => '');
  throw new Error(`db and app not both active after ${timeoutMs} ms; last list: ${last}\n${journal}`);
}

/** app's start began only once db was active: systemd's monotonic timestamps of this boot. */
async function startedInOrder(): Promise<{ dbActive: number; appStarting: number }> {
  const show = async (unit: string, prop: string) => Number((await ssh(`systemctl show -p ${prop} --value ${unit}`)).trim());
  return { dbActive: await show('keel-container-db.service', 'ActiveEnterTimestampMonotonic'), appStarting: await show('keel-container-app.service', 'InactiveExitTimestampMonotonic') };
}

beforeAll(async () => {
  for (const f of ['slot.img', 'vmlinuz', 'initramfs.img']) if (!existsSync(join(release, f))) throw new Error(`build/release/${f} is missing: run make image`);
  work = await mkdtemp(join(tmpdir(), 'keel-e2e-containers-'));
  await execa('make', ['-s', 'keel-sea'], { cwd: repoRoot });
  const tree = join(work, 'tree');
  await execa('nice', ['fsck.erofs', `--extract=${tree}`, '--preserve', join(release, 'slot.img')]);
  await cp(join(repoRoot, 'build/keel'), join(tree, 'usr/bin/keel'));
  await cp(join(repoRoot, 'images/units/keel-supervisor.service'), join(tree, 'usr/lib/systemd/system/keel-supervisor.service'));
  await execa('systemctl', ['--root', tree, 'enable', 'keel-supervisor.service']);
  // Extraction chowns after chmod, which clears set-uid bits: give sudo its bit back.
  await chmod(join(tree, 'usr/bin/sudo'), 0o4755);
  const version = (await readFile(join(tree, 'usr/lib/keel/version'), 'utf8')).trim();
  const slot = join(work, 'slot.img');
  // make-slot.sh: erofs with its dm-verity hash area, whose root hash make-disk.sh puts in the entry.
  await execa('nice', [join(repoRoot, 'images/make-slot.sh'), tree, slot, version], { env: { SOURCE_DATE_EPOCH: '1700000000' } });
  await execa('nice', [join(repoRoot, 'images/make-disk.sh'), join(work, 'disk.img'), slot, join(release, 'vmlinuz'), join(release, 'initramfs.img'), join(tree, 'usr/lib/systemd/boot/efi/systemd-bootx64.efi'), version, join(tree, 'etc/mke2fs.conf')]);
  const archive = await buildBusyboxArchive(join(work, 'image'));
  if (!(await readFile(join(tree, 'usr/bin/keel'))).includes('neverStarted')) throw new Error('build/keel is older than src/containers: make keel-sea did not rebuild it');
  // A disk's size is whole sectors; zeros after a tar's end are still a valid tar.
  const size = (await stat(archive)).size;
  await truncate(archive, Math.ceil(size / 512) * 512);
  vm = await startVm({
    name: 'containers-e2e',
    boot: { kind: 'uefi' },
    disks: [{ image: join(work, 'disk.img') }, { file: archive, format: 'raw', readOnly: true, serial: 'keelimages' }],
    seed: { userData: userData() },
    memoryMiB: 1536,
    net: { ssh: true, restrict: true },
  });
}, 30 * minute);

afterAll(async () => {
  await vm?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

test('first boot: both containers run, db before app', async () => {
  await vm!.waitFor(/keel-boot: ready/, { timeoutMs: 10 * minute });
  await bothActive(20 * minute);
  const order = await startedInOrder();
  expect(order.dbActive).toBeGreaterThan(0);
  expect(order.appStarting).toBeGreaterThanOrEqual(order.dbActive);
  expect(await ssh('sudo -n journalctl -b -u keel-container-app -o cat --no-pager')).toContain('app up');
  expect(await ssh('sudo -n journalctl -b -u keel-supervisor -o cat --no-pager')).toContain(`ensure image ${testImage} (for db, app): loaded`);
}, 40 * minute);

test('after a reboot: both run again, in order, from the specs written at first boot', async () => {
  await vm!.ssh('sudo -n systemctl reboot', { user: 'core', commandTimeoutMs: 30_000 }).catch(() => undefined);
  await vm!.waitFor(/keel-boot: ready/, { timeoutMs: 10 * minute });
  await bothActive(20 * minute);
  const order = await startedInOrder();
  expect(order.appStarting).toBeGreaterThanOrEqual(order.dbActive);
  // Second boot: the specs came from disk, not from a second cloud-config run; the image was already there.
  expect(await ssh('sudo -n journalctl -b -u keel-supervisor -o cat --no-pager')).toContain(`ensure image ${testImage} (for db, app): present`);
}, 40 * minute);
