// First boot of keel's image (direct kernel boot, the fast path): keel's initramfs makes and
// grows the state partition, keel-cloudinit.service applies the NoCloud seed (hostname, users,
// SSH key, file, unit, runcmd), SSH works with the injected key; a second boot of the same
// disk does not apply again; a broken cloud-config leaves a booted host, its located error on
// the console and in the journal, and nothing of it applied. A config that needs the network
// (cloud-config-url= on the kernel command line, no seed disk) is still read and applied,
// although keel-cloudinit starts before the network (docs/boot.md).
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { expect, test } from 'vitest';
import { withVm } from '../harness/qemu.js';
import { bootTimeoutMs, fixture, rawCopy, readyMarker, requireImage, stateDebugfs, stateDump } from './image-boot.js';

const { version, cmdline } = requireImage();
const diskMiB = 4096;

test('first boot applies the NoCloud seed; SSH with the injected key; a second boot does not re-apply', async () => {
  await withVm(
    {
      name: 'first-boot',
      boot: { kind: 'direct', append: cmdline },
      disks: [{ image: 'build/keel.img', sizeMiB: diskMiB }],
      seed: { userData: fixture('first-boot.yaml'), instanceId: 'e2e-first-boot' },
    },
    async (vm) => {
      const initramfsDone = await vm.waitFor(/keel-initramfs: \[([\d.]+)\] .*switching to/, { timeoutMs: bootTimeoutMs });
      const ready = await vm.waitFor(readyMarker, { timeoutMs: bootTimeoutMs });
      expect(ready.match[1]).toBe('a');
      expect(ready.match[2]).toBe(version);
      process.stderr.write(`first boot: initramfs done at ${initramfsDone.match[1]} s uptime, ready at ${ready.match[3]} s uptime (${(ready.line.ms / 1000).toFixed(1)} s after qemu started)\n`);
      const sh = (cmd: string) => vm.ssh(cmd, { user: 'tester' }).then((r) => r.stdout.trim());

      // The seed took effect: hostname, user (SSH login with the key is this very call), file, unit, runcmd.
      expect(await sh('hostname')).toBe('keel-e2e');
      expect(await sh('id -nG')).toMatch(/\bsudo\b/);
      // The new name resolves (nss-myhostname; the seed leaves /etc/hosts alone), so sudo does not warn.
      expect(await sh('getent hosts keel-e2e')).toMatch(/^\S+\s+keel-e2e$/m);
      expect((await vm.ssh('sudo -n true', { user: 'tester' })).stderr).toBe('');
      expect(await sh('sudo -n stat -c "%a %U:%G" /etc/keel-e2e/hello.txt')).toBe('640 root:root');
      expect(await sh('sudo -n cat /etc/keel-e2e/hello.txt')).toBe('hello from the seed');
      expect(await sh('systemctl is-active e2e-marker.service; cat /run/e2e-marker')).toBe('active\nstarted');
      expect(await sh('systemctl is-enabled e2e-marker.service')).toBe('enabled');
      // runcmd runs in a first-boot unit after keel-cloudinit: wait for it rather than race it.
      expect(await sh('for i in $(seq 60); do [ -s /var/lib/keel-e2e/runcmd.log ] && break; sleep 1; done; cat /var/lib/keel-e2e/runcmd.log')).toBe('runcmd ran');
      // The default user `core` got the top-level key too.
      expect((await vm.ssh('id -un', { user: 'core' })).stdout.trim()).toBe('core');

      // What keel's initramfs and image promise: read-only erofs slot, /etc overlay, state
      // grown to the disk, a machine-id made on this boot, host keys made here, no failed unit
      // of keel's own.
      expect(await sh('findmnt -no FSTYPE,OPTIONS /')).toMatch(/^erofs\s+ro\b/);
      expect(await sh('findmnt -no FSTYPE /etc')).toBe('overlay');
      expect(await sh('findmnt -no SOURCE /var')).toMatch(/\[\/var\]$/);
      const stateMiB = Number(await sh('echo $(( $(stat -f -c "%b * %S" /state) / 1048576 ))'));
      expect(stateMiB).toBeGreaterThan(diskMiB - 1 - 128 - 2 * 1024 - 200);
      expect(await sh('cat /etc/machine-id')).toMatch(/^[0-9a-f]{32}$/);
      expect(await sh('ls /etc/ssh/ssh_host_ed25519_key.pub')).toBe('/etc/ssh/ssh_host_ed25519_key.pub');
      expect(await sh('systemctl show -p Result --value keel-cloudinit.service')).toBe('success');
      expect(await sh('systemctl is-enabled e2scrub_reap.service || true')).toBe('masked');
      expect(await sh('cat /usr/lib/keel/version; . /usr/lib/os-release; echo $VERSION_ID')).toBe(`${version}\n${version}`);
      // The local phase: keel-cloudinit is not ordered after the network; it waited for
      // network-online.target itself, after the files and users, before the unit commands and runcmd.
      expect(await sh('systemctl show -p After --value keel-cloudinit.service')).not.toMatch(/network-online\.target/);
      const steps = (await sh('sudo -n journalctl -b -o cat -u keel-cloudinit.service')).split('\n');
      const at = (re: RegExp) => steps.findIndex((l) => re.test(l));
      expect(at(/waiting for the network before/)).toBeGreaterThan(at(/write-file \/etc\/keel-e2e\/hello\.txt/));
      expect(at(/network online after/)).toBeGreaterThan(at(/waiting for the network before/));
      expect(at(/unit-command|start e2e-marker\.service/)).toBeGreaterThan(at(/network online after/));
      expect(at(/run-commands/)).toBeGreaterThan(at(/network online after/));
      const firstBootCost = await sh('systemctl show -p ExecMainStartTimestampMonotonic -p ExecMainExitTimestampMonotonic --value keel-cloudinit.service');
      const [startUs, exitUs] = firstBootCost.split('\n').map(Number);
      process.stderr.write(`first boot: keel-cloudinit.service took ${((exitUs! - startUs!) / 1e6).toFixed(1)} s\n`);

      // Second boot of the same disk: the instance is recorded, nothing is applied again.
      await vm.ssh('sudo -n systemctl reboot', { user: 'tester', allowFailure: true });
      const again = await vm.waitFor(readyMarker, { timeoutMs: bootTimeoutMs });
      process.stderr.write(`second boot: ready at ${again.match[3]} s uptime\n`);
      expect(await sh('cat /var/lib/keel-e2e/runcmd.log')).toBe('runcmd ran');
      expect(await sh('hostname')).toBe('keel-e2e');
      const later = await sh('sudo -n journalctl -b -o short-monotonic -u keel-cloudinit.service');
      expect(later).toMatch(/already applied/);
      // keel's cost on a later boot: from the unit's start to its check's verdict (a figure, not a bound).
      const stamp = (re: RegExp) => Number(later.split('\n').find((l) => re.test(l))?.match(/^\[\s*([\d.]+)\]/)?.[1]);
      // Its CPU is the cost keel adds to the boot; the wall time shares one emulated CPU with the rest of the boot.
      const cpu = later.match(/Consumed (\S+) CPU time/)?.[1] ?? `${await sh('systemctl show -p CPUUsageNSec --value keel-cloudinit.service')} ns`;
      process.stderr.write(`second boot: keel-cloudinit's check took ${(stamp(/already applied/) - stamp(/Starting/)).toFixed(2)} s (start to verdict), the unit ${(stamp(/Skipped due to/) - stamp(/Starting/)).toFixed(2)} s (start to skipped), ${cpu} of CPU\n`);
    },
  );
});

test('a broken cloud-config: the host boots, the located error is on the console and in the journal, nothing is applied', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'keel-broken-'));
  try {
    await withVm(
      {
        name: 'first-boot-broken',
        boot: { kind: 'direct', append: cmdline },
        disks: [{ image: 'build/keel.img', sizeMiB: diskMiB }],
        seed: { userData: fixture('broken.yaml'), instanceId: 'e2e-broken' },
      },
      async (vm) => {
        const located = await vm.waitFor(/keel-cloudinit.*nocloud:\S+:(\d+):(\d+): error: write_files\[1\]\.encoding/, { timeoutMs: bootTimeoutMs });
        expect(located.match.slice(1, 3)).toEqual(['9', '15']);
        const nothingApplied = await vm.waitFor(/nothing applied/, { timeoutMs: 60_000 });
        await vm.waitFor(readyMarker, { timeoutMs: bootTimeoutMs });
        // The serial getty is not ordered after keel-ready: its prompt may come before the ready
        // line, or share its line (the prompt ends without a newline), so it is looked for from
        // the error on, not after the ready line, and not anchored at the line's end.
        await vm.waitFor(/ login: /, { timeoutMs: 120_000, after: nothingApplied });
        await vm.powerdown();
        await vm.waitExit({ timeoutMs: 120_000 });

        // Offline: nothing of the config reached the state partition, and the journal kept the error.
        const { raw, done } = await rawCopy(vm.diskFile(0));
        try {
          expect((await stateDebugfs(raw, 'stat /etc.upper/keel-e2e')).stderr).toMatch(/File not found/);
          expect((await stateDebugfs(raw, 'stat /var/lib/keel-broken-runcmd')).stderr).toMatch(/File not found/);
          expect((await stateDebugfs(raw, 'cat /etc.upper/hostname')).stdout).not.toContain('keel-broken');
          const journal = await stateDump(raw, '/var/log/journal', dir);
          const { stdout } = await execa('journalctl', ['-D', journal, '-o', 'cat', '-t', 'keel-cloudinit']);
          expect(stdout).toMatch(/nocloud:\S+:9:15: error: write_files\[1\]\.encoding: expected one of/);
          expect(stdout).toMatch(/not a valid cloud-config; nothing applied/);
        } finally {
          done();
        }
      },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('cloud-config-url= on the command line: keel waits for the network, fetches it and applies it', async () => {
  const userData = '#cloud-config\nhostname: keel-url\nwrite_files:\n  - path: /etc/keel-url/hello\n    content: "from the url"\nruncmd:\n  - \'echo "url-report: host=$(hostname) file=$(cat /etc/keel-url/hello)" >/dev/console\'\n';
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(req.url ?? '');
    if (req.url === '/user-data') res.writeHead(200, { 'content-type': 'text/cloud-config' }).end(userData);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const hostPort = (server.address() as AddressInfo).port;
  try {
    await withVm(
      {
        name: 'first-boot-url',
        // No seed disk: the command line is the only datasource, served through a guestfwd.
        boot: { kind: 'direct', append: `${cmdline} cloud-config-url=http://10.0.2.100/user-data` },
        disks: [{ image: 'build/keel.img' }],
        net: { ssh: false, restrict: true, guestForwards: [{ guestAddr: '10.0.2.100', guestPort: 80, hostPort }] },
      },
      async (vm) => {
        await vm.waitFor(/keel-cloudinit.*read over the network: waiting for network-online\.target/, { timeoutMs: bootTimeoutMs });
        await vm.waitFor(/keel-cloudinit.*user-data from cmdline:http:\/\/10\.0\.2\.100\/user-data/, { timeoutMs: bootTimeoutMs });
        // The command's own output, not keel's log line quoting it (that one says host=$(hostname)).
        const report = await vm.waitFor(/url-report: host=([a-z][\w-]*) file=(.*?)\s*$/, { timeoutMs: bootTimeoutMs });
        expect(report.match.slice(1, 3)).toEqual(['keel-url', 'from the url']);
        await vm.waitFor(readyMarker, { timeoutMs: bootTimeoutMs });
        expect(requests).toContain('/user-data');
      },
    );
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});
