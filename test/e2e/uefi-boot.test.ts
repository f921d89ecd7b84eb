// UEFI boot of keel's image through OVMF and systemd-boot, with boot counting: the shipped
// entry is renamed to carry a try counter (`+3`, as an update installs it); systemd-boot
// counts the try (`+2-1`) and, after a healthy boot, systemd-bless-boot removes the counter and
// the update agent arms the entry again with fresh tries (`+3-0`: every boot counts).
// Checked inside the guest and again on the ESP of the stopped disk.
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { expect, test } from 'vitest';
import { repoRoot, withVm } from '../harness/qemu.js';
import { bootTimeoutMs, espList, fixture, partition, rawCopy, readyMarker, requireImage } from './image-boot.js';

const { version } = requireImage();

test('UEFI: systemd-boot boots slot A from a +3 entry, the healthy boot blesses it and the agent arms it again', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'keel-uefi-'));
  try {
    // A copy of the image whose only entry has three tries left (cp keeps it sparse).
    const image = join(dir, 'counted.img');
    await execa('cp', ['--sparse=always', join(repoRoot, 'build/keel.img'), image]);
    const { offset } = await partition(image, 'EFI-SYSTEM');
    const esp = `${image}@@${offset}`;
    await execa('mren', ['-i', esp, `::/loader/entries/keel-${version}.conf`, `::/loader/entries/keel-${version}+3.conf`], { env: { MTOOLS_SKIP_CHECK: '1' } });
    expect(await espList(image, '/loader/entries')).toEqual([`keel-${version}+3.conf`]);
    copyFileSync('/usr/share/OVMF/OVMF_VARS.fd', join(dir, 'vars.fd'));

    await withVm(
      {
        name: 'uefi-boot',
        boot: { kind: 'uefi', varsTemplate: join(dir, 'vars.fd') },
        disks: [{ image, sizeMiB: 4096 }],
        seed: { userData: fixture('uefi.yaml'), instanceId: 'e2e-uefi' },
      },
      async (vm) => {
        const kernel = await vm.waitFor(/Linux version/, { timeoutMs: bootTimeoutMs });
        const ready = await vm.waitFor(readyMarker, { timeoutMs: bootTimeoutMs });
        expect(ready.match[1]).toBe('a');
        process.stderr.write(`uefi: kernel started ${(kernel.line.ms / 1000).toFixed(1)} s after qemu, ready at ${(ready.line.ms / 1000).toFixed(1)} s (uptime ${ready.match[3]} s)\n`);
        const sh = (cmd: string) => vm.ssh(cmd, { user: 'tester' }).then((r) => r.stdout.trim());

        // Booted by systemd-boot, from the counted entry, with the slot on its command line.
        expect(await sh('cat /proc/cmdline')).toMatch(/keel\.slot=a/);
        expect(await sh('test -d /sys/firmware/efi && echo efi')).toBe('efi');
        expect(await sh('sudo -n bootctl status --no-pager 2>/dev/null | grep -i "current entry\\|Current Boot Loader\\|Product" | head -3')).toMatch(/systemd-boot/);
        // The try is blessed once boot-complete.target is reached (the health gate passed), then armed.
        const entries = await sh(
          `for i in $(seq 180); do systemctl is-active -q systemd-bless-boot.service && sudo -n ls /boot/loader/entries | grep -qx 'keel-${version}+3-0.conf' && break; sleep 1; done; systemctl is-active systemd-bless-boot.service; sudo -n ls /boot/loader/entries`,
        );
        expect(entries).toBe(`active\nkeel-${version}+3-0.conf`);
        expect(await sh('systemctl is-active boot-complete.target')).toBe('active');
        await vm.powerdown();
        await vm.waitExit({ timeoutMs: 120_000 });

        const { raw, done } = await rawCopy(vm.diskFile(0));
        try {
          expect(await espList(raw, '/loader/entries')).toEqual([`keel-${version}+3-0.conf`]);
        } finally {
          done();
        }
      },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
