/**
 * What keel's image e2e tests share: the boot command line `make image` wrote, the
 * `keel-boot: ready` marker, cloud-config fixtures with the harness's SSH key, and offline
 * inspection of a VM's disk after it stopped (the ESP with mtools, the state partition with
 * debugfs), so a host nobody can log in to can still be checked.
 */
import { execa } from 'execa';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../harness/qemu.js';
import { testSshKey } from '../harness/ssh.js';

/** The line keel-ready.service prints once multi-user is reached. */
export const readyMarker = /keel-boot: ready slot=(\w) version=(\S+) uptime=([\d.]+)s/;

/** Generous under TCG on a shared 2-core machine: a first boot takes 40–90 s there. */
export const bootTimeoutMs = 300_000;

/** Fails loudly (never skips) when `make image` has not run. */
export function requireImage(): { version: string; cmdline: string } {
  for (const f of ['build/keel.img', 'build/vmlinuz', 'build/initramfs.img', 'build/kernel-cmdline', 'build/release/manifest.json'])
    if (!existsSync(join(repoRoot, f))) throw new Error(`${f} is missing: run make image first`);
  const manifest = JSON.parse(readFileSync(join(repoRoot, 'build/release/manifest.json'), 'utf8')) as { version: string };
  return { version: manifest.version, cmdline: readFileSync(join(repoRoot, 'build/kernel-cmdline'), 'utf8').trim() };
}

/** A fixture from test/e2e/fixtures/ with `@SSH_KEY@` replaced by the harness's key. */
export function fixture(name: string): string {
  return readFileSync(join(repoRoot, 'test/e2e/fixtures', name), 'utf8').replaceAll('@SSH_KEY@', testSshKey().publicKey);
}

/** A stopped VM's disk as a raw file in a temporary directory; `done()` removes it. */
export async function rawCopy(diskFile: string): Promise<{ raw: string; done: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), 'keel-disk-'));
  const raw = join(dir, 'disk.raw');
  await execa('qemu-img', ['convert', '-O', 'raw', diskFile, raw]);
  return { raw, done: () => rmSync(dir, { recursive: true, force: true }) };
}

interface SfdiskPartition {
  start: number;
  size: number;
  name?: string;
}

/** Byte offset and size of the partition named `label` in a raw GPT disk. */
export async function partition(raw: string, label: string): Promise<{ offset: number; bytes: number }> {
  const { stdout } = await execa('sfdisk', ['--json', raw]);
  const table = JSON.parse(stdout) as { partitiontable: { sectorsize?: number; partitions: SfdiskPartition[] } };
  const sector = table.partitiontable.sectorsize ?? 512;
  const p = table.partitiontable.partitions.find((x) => x.name === label);
  if (!p) throw new Error(`${raw}: no partition named ${label}`);
  return { offset: p.start * sector, bytes: p.size * sector };
}

/** File names in a directory of the ESP (vfat) of a raw disk, read with mtools. */
export async function espList(raw: string, dir: string): Promise<string[]> {
  const { offset } = await partition(raw, 'EFI-SYSTEM');
  const { stdout } = await execa('mdir', ['-b', '-i', `${raw}@@${offset}`, `::${dir}`], { env: { MTOOLS_SKIP_CHECK: '1' } });
  return stdout
    .split('\n')
    .map((l) => l.trim().replace(/^::/, '').split('/').pop() ?? '')
    .filter((n) => n !== '' && n !== '.' && n !== '..');
}

/** Runs a debugfs request against the state partition of a raw disk (read-only). */
export async function stateDebugfs(raw: string, request: string): Promise<{ stdout: string; stderr: string }> {
  const { offset, bytes } = await partition(raw, 'keel-state');
  const img = `${raw}.state`;
  try {
    await execa('dd', [`if=${raw}`, `of=${img}`, 'bs=1M', `skip=${offset}`, `count=${bytes}`, 'iflag=skip_bytes,count_bytes', 'conv=sparse', 'status=none']);
    const r = await execa('debugfs', ['-R', request, img], { reject: false });
    return { stdout: String(r.stdout), stderr: String(r.stderr) };
  } finally {
    rmSync(img, { force: true });
  }
}

/** Copies a directory of the state partition out with debugfs rdump; returns the host path. */
export async function stateDump(raw: string, path: string, into: string): Promise<string> {
  const r = await stateDebugfs(raw, `rdump ${path} ${into}`);
  const out = join(into, path.split('/').pop()!);
  if (!existsSync(out)) throw new Error(`debugfs rdump ${path}: nothing copied: ${r.stderr}`);
  return out;
}
