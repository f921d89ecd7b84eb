// PXE install, end to end: a VM with a blank disk boots from the network (qemu's iPXE ROM
// and user-mode TFTP serving `make pxe`'s boot.ipxe), fetches the kernel, the installer
// initramfs, keel.img and the cloud-config over HTTP from this test at 10.0.2.2, installs,
// reboots (qemu is restarted with UEFI firmware on the same disk, since the network phase
// runs under SeaBIOS's iPXE), and first boot applies the cloud-config.
import { createReadStream, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { repoRoot, withVm } from '../harness/qemu.js';
import { testSshKey } from '../harness/ssh.js';

const files: Record<string, string> = {
  '/vmlinuz': 'build/pxe/vmlinuz',
  '/initramfs.img': 'build/pxe/initramfs.img',
  '/keel.img.gz': 'build/pxe/keel.img.gz',
  '/keel.img.json': 'build/pxe/keel.img.json',
};
let server: Server;
let port = 0;
let tftp: string;
const served: string[] = [];

const userData = () => `#cloud-config
hostname: pxe-node
ssh_authorized_keys:
  - ${testSshKey().publicKey}
write_files:
  - path: /etc/keel/pxe-marker
    content: "installed over the network\\n"
runcmd:
  - echo "pxe-runcmd-marker $(hostname)" > /run/pxe-runcmd
`;

beforeAll(async () => {
  for (const f of [...Object.values(files), 'build/pxe/boot.ipxe'])
    if (!existsSync(join(repoRoot, f))) throw new Error(`${f} is missing: run make image pxe`);
  const body = userData();
  server = createServer((req, res) => {
    served.push(req.url ?? '');
    if (req.url === '/user-data') return res.writeHead(200, { 'content-length': Buffer.byteLength(body) }).end(body);
    const f = files[req.url ?? ''];
    if (!f) return res.writeHead(404).end();
    const path = join(repoRoot, f);
    res.writeHead(200, { 'content-length': statSync(path).size });
    createReadStream(path, { highWaterMark: 1 << 20 }).pipe(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
  // `make pxe`'s script, pointed at this test's server (a site edits base-url the same way).
  tftp = mkdtempSync(join(tmpdir(), 'keel-tftp-'));
  const script = readFileSync(join(repoRoot, 'build/pxe/boot.ipxe'), 'utf8').replace(/^set base-url .*$/m, `set base-url http://10.0.2.2:${port}`);
  writeFileSync(join(tftp, 'boot.ipxe'), script);
});

afterAll(async () => {
  await new Promise((r) => server?.close(r));
  if (tftp) rmSync(tftp, { recursive: true, force: true });
});

test('a blank machine installs keel from the network, boots it from disk and applies the cloud-config', async () => {
  await withVm(
    {
      name: 'pxe-install',
      boot: { kind: 'bios' },
      // As a machine is usually set up: disk first, network second. The blank disk does not
      // boot, so the firmware falls through to PXE; after the install the disk boots.
      disks: [{ blankMiB: 4096, bootIndex: 0 }],
      net: { tftpRoot: tftp, bootFile: 'boot.ipxe', bootIndex: 1, restrict: false },
      onReboot: 'stop',
    },
    async (vm) => {
      await vm.waitFor(/keel-pxe: .* start: .*keel\.install\.image=http:\/\/10\.0\.2\.2/, { timeoutMs: 300_000 });
      await vm.waitFor(/keel-pxe: .* network: /, { timeoutMs: 120_000 });
      const done = await vm.waitFor(/keel-pxe: \[[\d.]+\] install complete|install failed/, { timeoutMs: 1_200_000 });
      expect(done.line.text).toMatch(/install complete/);
      await vm.waitExit({ timeoutMs: 120_000 });
      expect(served).toEqual(expect.arrayContaining(['/vmlinuz', '/initramfs.img', '/keel.img.json', '/keel.img.gz', '/user-data']));

      // The installed disk, under UEFI: systemd-boot, keel's initramfs, first boot.
      await vm.restart({ boot: { kind: 'uefi' } });
      await vm.waitFor(/keel-boot: ready slot=a/, { timeoutMs: 600_000 });
      expect((await vm.ssh('hostname', { user: 'core' })).stdout.trim()).toBe('pxe-node');
      expect((await vm.ssh('cat /etc/keel/pxe-marker', { user: 'core' })).stdout).toBe('installed over the network\n');
      expect((await vm.ssh('cat /run/pxe-runcmd', { user: 'core' })).stdout.trim()).toBe('pxe-runcmd-marker pxe-node');
      // The state partition grew into the 4 GiB disk; the seed partition is there.
      const parts = (await vm.ssh('cat /proc/partitions', { user: 'core' })).stdout;
      expect(parts).toMatch(/vda5/);
    },
  );
  // Generous: TCG on a shared 2-core machine; the installer inflates and hashes 2.3 GB.
}, 2_400_000);
