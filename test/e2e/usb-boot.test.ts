// keel's image booted from a USB disk (qemu's xHCI controller and a usb-storage disk, as a USB
// stick or a BMC's virtual media), with its NoCloud seed on a SATA CD drive (/dev/sr0, as
// libvirt and Proxmox attach it): the initramfs finds the controller and the disk behind it by
// modalias, without falling back to every driver; the host comes up from slot A; keel reads
// the seed from the CD drive, which /proc/partitions does not list. Until session 14 the host
// initramfs carried usb-storage and uas but no host controller driver, so a root on a USB disk
// was never seen. A second boot of the same disk and CD skips keel: the later-boot check's blkid
// scan sees the CD drive, which keel's own device list adds beside /proc/partitions.
import { expect, test } from 'vitest';
import { withVm } from '../harness/qemu.js';
import { testSshKey } from '../harness/ssh.js';
import { bootTimeoutMs, readyMarker, requireImage } from './image-boot.js';

const { version, cmdline } = requireImage();

const userData = (key: string) =>
  `#cloud-config\nhostname: keel-usb\nusers:\n  - name: tester\n    sudo: "ALL=(ALL) NOPASSWD:ALL"\n    ssh_authorized_keys: ["${key}"]\nruncmd:\n  - 'echo "usb-boot-marker: $(hostname)" >/dev/console'\n`;

test('a USB disk: xhci_pci and usb-storage load by modalias and the host boots from it; the seed is read from a CD drive, and a later boot with it skips keel', async () => {
  await withVm(
    {
      name: 'usb-boot',
      boot: { kind: 'direct', append: cmdline },
      disks: [{ image: 'build/keel.img', sizeMiB: 4096, bus: 'usb' }],
      seed: { userData: userData(testSshKey().publicKey), instanceId: 'e2e-usb', bus: 'cdrom' },
    },
    async (vm) => {
      const found = await vm.waitFor(/keel-initramfs: \[[\d.]+\] .*switching to/, { timeoutMs: bootTimeoutMs });
      await vm.waitFor(/keel-cloudinit.*user-data from nocloud:\/dev\/sr0/, { timeoutMs: bootTimeoutMs });
      await vm.waitFor(/usb-boot-marker: keel-usb/, { timeoutMs: bootTimeoutMs });
      const ready = await vm.waitFor(readyMarker, { timeoutMs: bootTimeoutMs });
      expect([ready.match[1], ready.match[2]]).toEqual(['a', version]);
      const loaded = vm.serial.lines.filter((l) => /keel-initramfs: .*modules loaded/.test(l.text)).map((l) => l.text).join('\n');
      expect(loaded).toMatch(/xhci_pci/);
      expect(loaded).toMatch(/usb_storage|usb-storage/);
      expect(loaded).not.toMatch(/modules loaded: all/);
      process.stderr.write(`usb boot: initramfs done at ${(found.line.ms / 1000).toFixed(1)} s after qemu started; ${loaded.replace(/^.*modules loaded: /gm, '')}\n`);

      // The same disk and CD again: the instance is applied and its seed unchanged, so keel is not started.
      const sh = (cmd: string) => vm.ssh(cmd, { user: 'tester' }).then((r) => r.stdout.trim());
      expect(await sh('sudo -n cat /var/lib/keel/cloud-config/later-boot-check')).toMatch(/^cidata \/dev\/sr0 \d+ [0-9a-f]{64}$/m);
      await vm.ssh('sudo -n systemctl reboot', { user: 'tester', allowFailure: true });
      await vm.waitFor(readyMarker, { timeoutMs: bootTimeoutMs });
      expect(await sh('sudo -n journalctl -b -o cat -u keel-cloudinit.service')).toMatch(/instance already applied: its seed is unchanged/);
      expect(await sh('hostname')).toBe('keel-usb');
    },
  );
});
