/**
 * One direct-kernel boot of keel's image for bench/verity.bench.sh: waits for the ready marker,
 * then reads every file under /usr once with the page cache dropped (a cold read, through
 * dm-verity or not, as the command line says) and reports both. The NoCloud seed gives a sudo
 * user `bench` the harness's SSH key. Bundled with esbuild at bench
 * time; prints one JSON line:
 *   { readyMs, readyUptimeS, mappedS, usrReadS, usrBytes }
 * readyMs counts from qemu's start; readyUptimeS is the guest's uptime at the marker; mappedS
 * is the initramfs' verity step (state mounted → slot mounted, seconds).
 * usage: verity-boot.mjs NAME DISK KERNEL INITRD APPEND
 */
import { withVm } from '../../test/harness/qemu.js';
import { testSshKey } from '../../test/harness/ssh.js';

const [name, disk, kernel, initrd, append] = process.argv.slice(2);
if (!name || !disk || !kernel || !initrd || !append) {
  process.stderr.write('usage: verity-boot.mjs NAME DISK KERNEL INITRD APPEND\n');
  process.exit(2);
}
const userData = `#cloud-config
hostname: verity-bench
users:
  - name: bench
    groups: [sudo]
    shell: /bin/bash
    sudo: "ALL=(ALL) NOPASSWD:ALL"
    ssh_authorized_keys:
      - ${testSshKey().publicKey}
`;

const result = await withVm(
  {
    name: `bench-${name}`,
    boot: { kind: 'direct', kernel, initrd, append },
    disks: [{ image: disk }],
    seed: { userData, instanceId: `bench-${name}-${Date.now().toString(36)}` },
    memoryMiB: 1024,
    net: { ssh: true },
  },
  async (vm) => {
    const ready = await vm.waitFor(/keel-boot: ready slot=\w version=\S+ uptime=([\d.]+)s/, { timeoutMs: 900_000 });
    const uptimeOf = (re: RegExp) => Number(/\[([\d.]+)\]/.exec(vm.serial.find(re)?.line.text ?? '')?.[1] ?? NaN);
    const mappedS = uptimeOf(/keel-initramfs: \[[\d.]+\] slot mounted/) - uptimeOf(/keel-initramfs: \[[\d.]+\] state mounted/);
    // tar into a pipe (GNU tar skips reading files when it writes to /dev/null itself).
    const read = await vm.ssh(
      `sudo -n sh -c 'sync; echo 3 > /proc/sys/vm/drop_caches; a=$(cut -d" " -f1 /proc/uptime); n=$(tar -cf - /usr 2>/dev/null | wc -c); b=$(cut -d" " -f1 /proc/uptime); echo "$a $b $n"'`,
      { user: 'bench', commandTimeoutMs: 900_000 },
    );
    const [a, b, bytes] = read.stdout.trim().split(/\s+/).map(Number);
    return { readyMs: ready.line.ms, readyUptimeS: Number(ready.match[1]), mappedS: Number(mappedS.toFixed(2)), usrReadS: Number((b! - a!).toFixed(2)), usrBytes: bytes };
  },
);
process.stdout.write(JSON.stringify(result) + '\n');
