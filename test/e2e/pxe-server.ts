/**
 * What keel's PXE e2e tests share: an HTTP server on 127.0.0.1 (the guest reaches it at
 * 10.0.2.2 through qemu's user network) serving `make pxe`'s kernel, installer initramfs,
 * keel.img.gz and its manifest plus the test's cloud-config, and a TFTP root holding
 * `make pxe`'s boot.ipxe pointed at that server, as a site edits it for its own.
 */
import { createReadStream, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../harness/qemu.js';
import { testSshKey } from '../harness/ssh.js';

const files: Record<string, string> = {
  '/vmlinuz': 'build/pxe/vmlinuz',
  '/initramfs.img': 'build/pxe/initramfs.img',
  '/keel.img.gz': 'build/pxe/keel.img.gz',
  '/keel.img.json': 'build/pxe/keel.img.json',
};

/** The paths a complete install fetches. */
export const installFetches = ['/vmlinuz', '/initramfs.img', '/keel.img.json', '/keel.img.gz', '/user-data'];

/** Console markers of the installer (images/pxe/init), in order. */
export const pxeMarkers = {
  start: /keel-pxe: .* start: .*keel\.install\.image=http:\/\/10\.0\.2\.2/,
  network: /keel-pxe: .* network: /,
  done: /keel-pxe: \[[\d.]+\] install complete|install failed/,
};

/** A cloud-config naming the host, authorizing the harness's key and leaving two marks. */
export function pxeUserData(hostname: string): string {
  return `#cloud-config
hostname: ${hostname}
ssh_authorized_keys:
  - ${testSshKey().publicKey}
write_files:
  - path: /etc/keel/pxe-marker
    content: "installed over the network\\n"
runcmd:
  - echo "pxe-runcmd-marker $(hostname)" > /run/pxe-runcmd
`;
}

export interface PxeServer {
  /** The server as the guest reaches it: http://10.0.2.2:PORT. */
  baseUrl: string;
  /** TFTP root for the VM's user network: boot.ipxe. */
  tftpRoot: string;
  /** Request paths in arrival order. */
  served: string[];
  close(): Promise<void>;
}

/**
 * Starts the server. `device` replaces the script's install-device (a site sets it for its
 * machines); omitted, `make pxe`'s default stays.
 */
export async function startPxeServer(userData: string, opts: { device?: string } = {}): Promise<PxeServer> {
  for (const f of [...Object.values(files), 'build/pxe/boot.ipxe'])
    if (!existsSync(join(repoRoot, f))) throw new Error(`${f} is missing: run make image pxe`);
  const served: string[] = [];
  const server = createServer((req, res) => {
    served.push(req.url ?? '');
    if (req.url === '/user-data') return res.writeHead(200, { 'content-length': Buffer.byteLength(userData) }).end(userData);
    const f = files[req.url ?? ''];
    if (!f) return res.writeHead(404).end();
    const path = join(repoRoot, f);
    res.writeHead(200, { 'content-length': statSync(path).size });
    createReadStream(path, { highWaterMark: 1 << 20 }).pipe(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const tftpRoot = mkdtempSync(join(tmpdir(), 'keel-tftp-'));
  let script = readFileSync(join(repoRoot, 'build/pxe/boot.ipxe'), 'utf8').replace(/^set base-url .*$/m, `set base-url http://10.0.2.2:${port}`);
  if (opts.device) script = script.replace(/^set install-device .*$/m, `set install-device ${opts.device}`);
  writeFileSync(join(tftpRoot, 'boot.ipxe'), script);
  return {
    baseUrl: `http://10.0.2.2:${port}`,
    tftpRoot,
    served,
    close: async () => {
      await new Promise((r) => server.close(r));
      rmSync(tftpRoot, { recursive: true, force: true });
    },
  };
}

/** Seconds since `t0` (Date.now()), for the timings a test prints. */
export function secondsSince(t0: number): string {
  return ((Date.now() - t0) / 1000).toFixed(0);
}
