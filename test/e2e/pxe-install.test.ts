// PXE install under BIOS, onto an NVMe disk: a VM with a blank NVMe drive boots from the
// network (SeaBIOS runs qemu's iPXE ROM, whose DHCP names boot.ipxe on qemu's TFTP), fetches
// the kernel, the installer initramfs, keel.img.gz and the cloud-config over HTTP from this
// test at 10.0.2.2, installs, reboots (qemu is restarted with UEFI firmware on the same disk),
// and first boot applies the cloud-config. pxe-uefi.test.ts does the network phase under
// UEFI, with a SATA disk and an Intel NIC.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { withVm } from '../harness/qemu.js';
import { installFetches, pxeMarkers, pxeUserData, secondsSince, startPxeServer, type PxeServer } from './pxe-server.js';

let pxe: PxeServer;

beforeAll(async () => {
  // The target by its stable name, as a site names a machine's disk (keel install --device auto
  // resolves a /dev/disk/by-id name from sysfs: the installer has no udev).
  pxe = await startPxeServer(pxeUserData('pxe-node'), { device: 'nvme-QEMU_NVMe_Ctrl_keel-nvme' });
});

afterAll(async () => {
  await pxe?.close();
});

test('a blank machine installs keel from the network onto NVMe, boots it from disk and applies the cloud-config', async () => {
  const t0 = Date.now();
  await withVm(
    {
      name: 'pxe-install',
      boot: { kind: 'bios' },
      memoryMiB: 768,
      // As a machine is usually set up: disk first, network second. The blank disk does not
      // boot, so the firmware falls through to PXE; after the install the disk boots.
      disks: [{ blankMiB: 4096, bus: 'nvme', serial: 'keel-nvme', bootIndex: 0 }],
      net: { tftpRoot: pxe.tftpRoot, bootFile: 'boot.ipxe', bootIndex: 1, restrict: false },
      onReboot: 'stop',
    },
    async (vm) => {
      await vm.waitFor(pxeMarkers.start, { timeoutMs: 300_000 });
      await vm.waitFor(pxeMarkers.network, { timeoutMs: 120_000 });
      await vm.waitFor(/--device auto: \/dev\/nvme0n1 \(named by keel\.install\.device=nvme-QEMU_NVMe_Ctrl_keel-nvme\)/, { timeoutMs: 300_000 });
      const done = await vm.waitFor(pxeMarkers.done, { timeoutMs: 1_200_000 });
      expect(done.line.text).toMatch(/install complete/);
      await vm.waitExit({ timeoutMs: 120_000 });
      expect(pxe.served).toEqual(expect.arrayContaining(installFetches));
      const installed = secondsSince(t0);

      // The installed disk, under UEFI: systemd-boot, keel's initramfs, first boot.
      await vm.restart({ boot: { kind: 'uefi' } });
      await vm.waitFor(/keel-boot: ready slot=a/, { timeoutMs: 600_000 });
      expect((await vm.ssh('hostname', { user: 'core' })).stdout.trim()).toBe('pxe-node');
      expect((await vm.ssh('cat /etc/keel/pxe-marker', { user: 'core' })).stdout).toBe('installed over the network\n');
      expect((await vm.ssh('cat /run/pxe-runcmd', { user: 'core' })).stdout.trim()).toBe('pxe-runcmd-marker pxe-node');
      // Root and state on the NVMe drive; the seed partition (5) is there.
      const parts = (await vm.ssh('cat /proc/partitions; ls /dev/disk/by-id', { user: 'core' })).stdout;
      expect(parts).toMatch(/nvme0n1p5/);
      expect(parts).toMatch(/^nvme-.*keel-nvme$/m);
      process.stderr.write(`pxe-install (bios, nvme): installed ${installed} s, first boot ready ${secondsSince(t0)} s after the test began\n`);
    },
  );
  // Generous: TCG on a shared 2-core machine; the installer inflates and hashes 2.3 GB.
}, 2_400_000);
