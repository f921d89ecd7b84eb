// keel's image booted from a USB disk (qemu's xHCI controller and a usb-storage disk, as a USB
// stick or a BMC's virtual media), with its NoCloud seed on a SATA CD drive (/dev/sr0, as
// libvirt and Proxmox attach it): the initramfs finds the controller and the disk behind it by
// modalias, without falling back to every driver; the host comes up from slot A; keel reads
// the seed from the CD drive, which /proc/partitions does not list. Until session 14 the host
// initramfs carried usb-storage and uas but no host controller driver, so a root on a USB disk
// was never seen.
import { expect, test } from 'vitest';
import { withVm } from '../harness/qemu.js';
import { bootTimeoutMs, readyMarker, requireImage } from './image-boot.js';

const { version, cmdline } = requireImage();

const userData = `#cloud-config\nhostname: keel-usb\nruncmd:\n  - 'echo "usb-boot-marker: $(hostname)" >/dev/console'\n`;

test('a USB disk: xhci_pci and usb-storage load by modalias and the host boots from it; the seed is read from a CD drive', async () => {
  await withVm(
    {
      name: 'usb-boot',
      boot: { kind: 'direct', append: cmdline },
      disks: [{ image: 'build/keel.img', sizeMiB: 4096, bus: 'usb' }],
      seed: { userData, instanceId: 'e2e-usb', bus: 'cdrom' },
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
    },
  );
});
