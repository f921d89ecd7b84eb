// `keel install` against real loop devices, real sgdisk, real HTTP on 127.0.0.1: the built
// ./bin/keel is run as a user would. The image is a small one in keel's layout (ESP, two
// slots, state) with its manifest written by images/manifest.sh, the script `make image` uses.
import { execa, execaSync } from 'execa';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, createReadStream } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest';
import { attachLoop, readAt } from '../harness/loop-device.js';

const repo = resolve(import.meta.dirname, '../..');
const keel = join(repo, 'bin/keel');
const mib = 1024 * 1024;
let dir: string;
let image: string;
let server: Server;
let baseUrl: string;
const loops: string[] = [];
const mounts: string[] = [];

const cloudConfig = '#cloud-config\nhostname: installed-node\nwrite_files:\n  - path: /etc/keel/installed\n    content: "yes"\n';

/** A 36 MiB disk image in keel's layout with recognisable content in slot A. */
async function makeImage(path: string): Promise<void> {
  execaSync('truncate', ['-s', `${36 * mib}`, path]);
  await execa('sgdisk', ['-n', '1:1M:+8M', '-t', '1:EF00', '-c', '1:EFI-SYSTEM', '-n', '2:0:+8M', '-c', '2:keel-root-a', '-n', '3:0:+8M', '-c', '3:keel-root-b', '-n', '4:0:+8M', '-c', '4:keel-state', path]);
  const fd = openSync(path, 'r+');
  const slot = Buffer.alloc(8 * mib);
  for (let i = 0; i < slot.length; i += 4096) slot.write(`keel-slot-a block ${i / 4096}\n`, i);
  const { writeSync } = await import('node:fs');
  writeSync(fd, slot, 0, slot.length, 9 * mib);
  closeSync(fd);
}

function manifestFor(path: string): void {
  const r = execaSync(join(repo, 'images/manifest.sh'), ['disk', '9.9.9-test', path]);
  writeFileSync(`${path}.json`, r.stdout);
}

const loop = (sizeMiB: number, name: string) => attachLoop(dir, sizeMiB, name, loops);

function sha(buf: Buffer): string {
  return createHash('sha256').update(buf).digest('hex');
}

async function keelInstall(args: string[]) {
  return execa(keel, ['install', ...args], { reject: false, env: { JOURNAL_STREAM: '' } });
}

beforeAll(async () => {
  if (!existsSync(keel)) throw new Error(`${keel} is missing: run node scripts/build.mjs`);
  dir = mkdtempSync(join(tmpdir(), 'keel-install-'));
  image = join(dir, 'keel.img');
  await makeImage(image);
  manifestFor(image);
  writeFileSync(join(dir, 'user-data'), cloudConfig);
  execaSync('gzip', ['-1', '-k', image]);
  const corrupt = join(dir, 'corrupt.img');
  writeFileSync(corrupt, readFileSync(image));
  writeFileSync(`${corrupt}.json`, readFileSync(`${image}.json`, 'utf8'));
  const fd = openSync(corrupt, 'r+');
  const { writeSync } = await import('node:fs');
  writeSync(fd, Buffer.from('X'), 0, 1, 10 * mib);
  closeSync(fd);
  server = createServer((req, res) => {
    const file = join(dir, (req.url ?? '/').slice(1));
    if (!existsSync(file)) return res.writeHead(404).end();
    res.writeHead(200, { 'content-length': readFileSync(file).length });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  baseUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterEach(() => {
  for (const m of mounts.splice(0)) execaSync('umount', [m], { reject: false });
  for (const l of loops.splice(0)) execaSync('losetup', ['-d', l], { reject: false });
});

afterAll(async () => {
  await new Promise((r) => server?.close(r));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Partition names by number, from sgdisk -p. */
function partitions(dev: string): Record<number, { start: number; end: number; name: string }> {
  const out = execaSync('sgdisk', ['-p', dev]).stdout;
  const parts: Record<number, { start: number; end: number; name: string }> = {};
  for (const m of out.matchAll(/^\s+(\d+)\s+(\d+)\s+(\d+)\s+\S+ \S+\s+[0-9A-F]{4}\s+(.*)$/gm))
    parts[Number(m[1])] = { start: Number(m[2]), end: Number(m[3]), name: m[4]!.trim() };
  return parts;
}

function checkInstalled(dev: string, sizeMiB: number): void {
  // Every partition of the image, plus the seed; the primary and backup tables are valid.
  const parts = partitions(dev);
  expect(Object.values(parts).map((p) => p.name).sort()).toEqual(['EFI-SYSTEM', 'cidata', 'keel-root-a', 'keel-root-b', 'keel-state']);
  expect(execaSync('sgdisk', ['-v', dev]).stdout).toMatch(/No problems found/);
  // The backup header is in the device's last sector, not where the 36 MiB image had it.
  expect(readAt(dev, sizeMiB * mib - 512, 8).toString('latin1')).toBe('EFI PART');
  expect(readAt(dev, 1 * mib, 8).equals(Buffer.alloc(8))).toBe(true); // ESP area untouched by the seed
  // Slot A byte for byte.
  expect(sha(readAt(dev, 9 * mib, 8 * mib))).toBe(sha(readFileSync(image).subarray(9 * mib, 17 * mib)));
  // The seed: vfat labelled CIDATA with the user-data and an instance id.
  const seed = parts[5]!;
  expect(seed.name).toBe('cidata');
  expect(seed.end).toBeLessThan(2048);
  const at = `${dev}@@${seed.start * 512}`;
  const env = { ...process.env, MTOOLS_SKIP_CHECK: '1' };
  expect(execaSync('mtype', ['-i', at, '::user-data'], { env }).stdout).toBe(cloudConfig.trimEnd());
  expect(execaSync('mtype', ['-i', at, '::meta-data'], { env }).stdout).toMatch(/^instance-id: keel-install-/);
  expect(execaSync('blkid', ['-p', '-O', String(seed.start * 512), '-s', 'LABEL', '-o', 'value', dev]).stdout.trim()).toBe('CIDATA');
}

test('installs a local image with a cloud-config onto a larger loop device', async () => {
  const dev = loop(64, 'disk-local');
  const r = await keelInstall(['--device', dev, '--image', image, '--cloud-config', join(dir, 'user-data'), '--json']);
  expect(r.stderr).toMatch(/image verified/);
  expect(r.exitCode).toBe(0);
  const report = JSON.parse(String(r.stdout));
  expect(report).toMatchObject({ device: dev, version: '9.9.9-test', bytes: 36 * mib, deviceBytes: 64 * mib, backupHeaderSector: 64 * 2048 - 1 });
  expect(report.cloudConfig).toMatchObject({ partition: 5, label: 'CIDATA', bytes: cloudConfig.length });
  // The loop device was zeroed first, so the image's empty blocks were not written.
  expect(report.skippedZeroBytes).toBeGreaterThan(0);
  checkInstalled(dev, 64);
});

test('installs from http: image, manifest and cloud-config all fetched from 127.0.0.1', async () => {
  const dev = loop(48, 'disk-http');
  const r = await keelInstall(['--device', dev, '--image', `${baseUrl}/keel.img`, '--cloud-config', `${baseUrl}/user-data`]);
  expect(r.stderr).toMatch(/write: 100% 36\/36 MiB/);
  expect(r.exitCode).toBe(0);
  expect(String(r.stdout)).toMatch(/installed keel 9.9.9-test on \/dev\/loop\d+: 37748736 bytes/);
  checkInstalled(dev, 48);
});

test('every block is right on a device that held data before', async () => {
  const dev = loop(64, 'disk-dirty');
  const fd = openSync(dev, 'r+');
  const { writeSync } = await import('node:fs');
  writeSync(fd, Buffer.alloc(64 * mib, 0xa5), 0, 64 * mib, 0);
  closeSync(fd);
  const r = await keelInstall(['--device', dev, '--image', image, '--cloud-config', join(dir, 'user-data')]);
  expect(r.exitCode).toBe(0);
  checkInstalled(dev, 64);
  // Slot B is empty in the image and must read as zeros, not as the old 0xa5 bytes.
  expect(readAt(dev, 17 * mib, 8 * mib).equals(Buffer.alloc(8 * mib))).toBe(true);
});

test.each([
  { name: 'a local file', ref: () => `${image}.gz` },
  { name: 'http', ref: () => `${baseUrl}/keel.img.gz` },
])('installs a gzip image from $name, verified against the raw image manifest', async ({ ref }) => {
  const dev = loop(64, 'disk-gz');
  const r = await keelInstall(['--device', dev, '--image', ref(), '--cloud-config', join(dir, 'user-data'), '--json']);
  expect(r.exitCode).toBe(0);
  expect(JSON.parse(String(r.stdout))).toMatchObject({ bytes: 36 * mib, sha256: JSON.parse(readFileSync(`${image}.json`, 'utf8')).image.sha256 });
  checkInstalled(dev, 64);
});

test('a truncated gzip image is refused and leaves no partition table', async () => {
  const gz = readFileSync(`${image}.gz`);
  writeFileSync(join(dir, 'cut.img.gz'), gz.subarray(0, gz.length - 100));
  writeFileSync(join(dir, 'cut.img.json'), readFileSync(`${image}.json`));
  const dev = loop(64, 'disk-cut');
  const r = await keelInstall(['--device', dev, '--image', join(dir, 'cut.img.gz')]);
  expect(r.exitCode).toBe(1);
  expect(r.stderr).toMatch(/cut\.img\.gz/);
  expect(readAt(dev, 512, 8).toString('latin1')).not.toBe('EFI PART');
});

test('refuses a mounted device and leaves it as it was', async () => {
  const dev = loop(64, 'disk-mounted');
  await execa('mkfs.ext4', ['-q', dev]);
  const mnt = mkdtempSync(join(dir, 'mnt-'));
  // Read-only, so the kernel itself does not write to the device while the test compares it.
  await execa('mount', ['-o', 'ro,noload', dev, mnt]);
  mounts.push(mnt);
  const before = sha(readAt(dev, 0, 2 * mib));
  const r = await keelInstall(['--device', dev, '--image', image]);
  expect(r.exitCode).toBe(1);
  expect(r.stderr).toMatch(new RegExp(`${dev} is in use: mounted on ${mnt}.*refusing to overwrite it`));
  expect(sha(readAt(dev, 0, 2 * mib))).toBe(before);
});

test('refuses a too-small device', async () => {
  const dev = loop(20, 'disk-small');
  const r = await keelInstall(['--device', dev, '--image', image]);
  expect(r.exitCode).toBe(1);
  expect(r.stderr).toMatch(/has 20971520 bytes, the image needs 37748736; refusing to install on a too-small device/);
  expect(readAt(dev, 0, mib).equals(Buffer.alloc(mib))).toBe(true);
});

test('refuses a corrupted local image before touching the device', async () => {
  const dev = loop(64, 'disk-corrupt');
  const r = await keelInstall(['--device', dev, '--image', join(dir, 'corrupt.img')]);
  expect(r.exitCode).toBe(1);
  expect(r.stderr).toMatch(/corrupt\.img has SHA-256 [0-9a-f]{64}, its manifest says [0-9a-f]{64}; refusing to install/);
  expect(readAt(dev, 0, 2 * mib).equals(Buffer.alloc(2 * mib))).toBe(true);
});

test('a corrupted streamed image leaves no partition table behind', async () => {
  const dev = loop(64, 'disk-corrupt-http');
  const r = await keelInstall(['--device', dev, '--image', `${baseUrl}/corrupt.img`, '--cloud-config', `${baseUrl}/user-data`]);
  expect(r.exitCode).toBe(1);
  expect(r.stderr).toMatch(/the partition tables on \/dev\/loop\d+ were wiped/);
  expect(readAt(dev, 512, 8).toString('latin1')).not.toBe('EFI PART');
  expect(readAt(dev, 64 * mib - 512, 8).toString('latin1')).not.toBe('EFI PART');
  expect(readAt(dev, 36 * mib - 512, 8).toString('latin1')).not.toBe('EFI PART');
});

test.each([
  { name: 'a missing manifest', args: () => ['--image', join(dir, 'user-data')], code: 1, err: /no manifest beside .*user-data \(tried .*user-data\.json/ },
  { name: 'a character device', args: () => ['--image', image, '--device', '/dev/loop-control'], code: 1, err: /neither a block device nor a file/ },
  { name: 'no --device', args: () => ['--image', image], code: 2, err: /--device DEV and --image FILE\|URL are required/ },
  { name: 'a cloud-config without a header', args: () => ['--image', image, '--cloud-config', join(dir, 'keel.img.json')], code: 1, err: /expected a '#cloud-config' document/ },
])('refuses $name', async ({ args, code, err }) => {
  const a = args();
  const full = a.includes('--device') || code === 2 ? a : [...a, '--device', loop(64, 'disk-refuse')];
  const r = await keelInstall(full);
  expect(r.stderr).toMatch(err);
  expect(r.exitCode).toBe(code);
});
