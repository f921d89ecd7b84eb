// PXE install under UEFI, on a server's kind of hardware: OVMF with an Intel 82574L NIC
// (e1000e; OVMF has no driver for it, so the card's option ROM, Debian's iPXE, brings the
// network and runs boot.ipxe from qemu's TFTP) and a SATA disk on an AHCI controller. The
// installer writes the disk and reboots; the same VM (a cold qemu restart on the same disk
// and firmware vars) then boots the disk first, under UEFI, to keel's ready marker, and
// first boot applies the cloud-config over the e1000e NIC.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { repoRoot, withVm } from '../harness/qemu.js';
import { installFetches, pxeMarkers, pxeUserData, secondsSince, startPxeServer, type PxeServer } from './pxe-server.js';

let pxe: PxeServer;
/** systemd's EFI stub (Debian's systemd-boot-efi), as mk/pxe.mk uses it. */
const ukiStub = '/usr/lib/systemd/boot/efi/linuxx64.efi.stub';

beforeAll(async () => {
  // No disk named: keel install --device auto takes the only blank disk.
  pxe = await startPxeServer(pxeUserData('pxe-uefi-node'), { device: 'auto' });
});

afterAll(async () => {
  await pxe?.close();
});

test('a blank UEFI machine with an e1000e NIC and a SATA disk installs keel over PXE and boots it', async () => {
  const t0 = Date.now();
  await withVm(
    {
      name: 'pxe-uefi',
      boot: { kind: 'uefi' },
      memoryMiB: 768,
      // Disk first, network second: the blank disk has no ESP, so OVMF falls through to the
      // NIC; once installed, the disk boots after the installer's reboot.
      disks: [{ blankMiB: 4096, bus: 'ahci', serial: 'keel-sata', bootIndex: 0 }],
      net: { model: 'e1000e', tftpRoot: pxe.tftpRoot, bootFile: 'boot.ipxe', bootIndex: 1, restrict: false },
    },
    async (vm) => {
      // iPXE under UEFI: the kernel's EFI stub must find the initrd (boot.ipxe names it).
      await vm.waitFor(/EFI stub: Loaded initrd/, { timeoutMs: 300_000 });
      await vm.waitFor(pxeMarkers.start, { timeoutMs: 120_000 });
      await vm.waitFor(pxeMarkers.network, { timeoutMs: 120_000 });
      await vm.waitFor(/--device auto: \/dev\/sda \(the only blank non-removable disk\)/, { timeoutMs: 300_000 });
      const done = await vm.waitFor(pxeMarkers.done, { timeoutMs: 1_200_000 });
      expect(done.line.text).toMatch(/install complete/);
      expect(pxe.served).toEqual(expect.arrayContaining(installFetches));
      const installed = secondsSince(t0);

      // The installer's reboot ends qemu and the harness starts it again (cold, as OVMF needs).
      await vm.waitFor(/keel-boot: ready slot=a/, { timeoutMs: 600_000 });
      expect((await vm.ssh('hostname', { user: 'core' })).stdout.trim()).toBe('pxe-uefi-node');
      expect((await vm.ssh('cat /etc/keel/pxe-marker', { user: 'core' })).stdout).toBe('installed over the network\n');
      expect((await vm.ssh('cat /run/pxe-runcmd', { user: 'core' })).stdout.trim()).toBe('pxe-runcmd-marker pxe-uefi-node');
      // Booted by UEFI, from the SATA disk (state partition 5 is sda5), on the e1000e NIC.
      const facts = (await vm.ssh('test -d /sys/firmware/efi && echo uefi; cat /proc/partitions; ls /dev/disk/by-id; for d in /sys/class/net/*/device/driver; do basename $(readlink $d); done', { user: 'core' })).stdout;
      expect(facts).toMatch(/^uefi$/m);
      expect(facts).toMatch(/\bsda5\b/);
      expect(facts).toMatch(/^ata-.*keel-sata$/m);
      expect(facts).toMatch(/^e1000e$/m);
      process.stderr.write(`pxe-uefi (e1000e, ahci): installed ${installed} s, first boot ready ${secondsSince(t0)} s after the test began\n`);
    },
  );
  // Generous: TCG on a shared 2-core machine; the installer inflates and hashes 2.3 GB.
}, 2_400_000);

// A server's own UEFI PXE, without iPXE: OVMF's network stack on a virtio NIC with no option
// ROM fetches one file over TFTP, keel-install.efi (`make pxe`; built here by the same script
// with this test's server in its command line), whose EFI stub hands the kernel its initrd
// and command line. The installer starting, on the network and choosing the disk (after
// reading the image's manifest over HTTP) is what this path adds; the install is the one above.
test("UEFI firmware's own PXE boots keel-install.efi into the installer", async () => {
  const t0 = Date.now();
  const before = pxe.served.length;
  const cmdline = `console=ttyS0,115200 keel.install.image=${pxe.baseUrl}/keel.img.gz keel.install.device=auto cloud-config-url=${pxe.baseUrl}/user-data`;
  const uki = join(pxe.tftpRoot, 'keel-install.efi');
  await execa(join(repoRoot, 'images/pxe/make-uki.sh'), [ukiStub, join(repoRoot, 'build/pxe/vmlinuz'), join(repoRoot, 'build/pxe/initramfs.img'), cmdline, uki]);
  await withVm(
    {
      name: 'pxe-uefi-uki',
      boot: { kind: 'uefi' },
      memoryMiB: 768,
      disks: [{ blankMiB: 4096, bootIndex: 0 }],
      net: { tftpRoot: pxe.tftpRoot, bootFile: 'keel-install.efi', bootIndex: 1, restrict: false, romFile: '' },
    },
    async (vm) => {
      await vm.waitFor(/NBP file downloaded successfully/, { timeoutMs: 300_000 });
      await vm.waitFor(/EFI stub: Loaded initrd from LINUX_EFI_INITRD_MEDIA_GUID/, { timeoutMs: 120_000 });
      await vm.waitFor(pxeMarkers.start, { timeoutMs: 120_000 });
      await vm.waitFor(pxeMarkers.network, { timeoutMs: 120_000 });
      await vm.waitFor(/--device auto: \/dev\/vda \(the only blank non-removable disk\)/, { timeoutMs: 300_000 });
      expect(pxe.served.slice(before)).toContain('/keel.img.json');
      process.stderr.write(`pxe-uefi (firmware pxe, keel-install.efi ${(statSync(uki).size / 2 ** 20).toFixed(0)} MiB): installer choosing its disk ${secondsSince(t0)} s after the test began\n`);
    },
  );
}, 900_000);
