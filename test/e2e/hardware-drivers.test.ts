// Every driver images/hardware.txt lists is in what `make image pxe` built: the OS tree's
// modules.dep (with its dependencies as files, or built into the kernel), the firmware it
// names, the PXE installer's initramfs (nic, storage, usb: in its load order after their
// dependencies, with their firmware) and the host's initramfs (storage, usb). It boots nothing, but
// reads build outputs, so it sits in the e2e tier, which builds them first (mk/*.mk), and
// fails loudly when they are missing, as the other e2e files do.
import { execaSync } from 'execa';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';

const repo = resolve(import.meta.dirname, '../..');
const modulesRoot = join(repo, '.cache/image/rootfs/usr/lib/modules');
const firmwareRoot = join(repo, '.cache/image/rootfs/usr/lib/firmware');
const pxeInitramfs = join(repo, 'build/pxe/initramfs.img');
const hostInitramfs = join(repo, 'build/initramfs.img');

interface Listed {
  family: string;
  module: string;
}

const listed: Listed[] = readFileSync(join(repo, 'images/hardware.txt'), 'utf8')
  .split('\n')
  .filter((l) => l.trim() && !l.startsWith('#'))
  .map((l) => {
    const [family, module] = l.split(/\s+/);
    return { family: family!, module: module! };
  });

/** Module names compare with '-' and '_' alike, as modprobe does. */
const norm = (name: string) => basename(name).replace(/\.ko(\.\w+)?$/, '').replace(/-/g, '_');

let kdir: string;
let dep: Map<string, { path: string; deps: string[] }>;
let builtin: Set<string>;

/** The newc cpio's file names and the content of one of them. */
function initramfs(path: string): { files: Set<string>; loadOrder: string[] } {
  const list = execaSync('sh', ['-c', 'zstd -dc "$1" | cpio -it --quiet', 'sh', path]).stdout;
  const order = execaSync('sh', ['-c', 'zstd -dc "$1" | cpio -i --quiet --to-stdout lib/modules/load-order', 'sh', path]).stdout;
  return { files: new Set(list.split('\n').map((f) => f.replace(/^\.\//, ''))), loadOrder: order.split('\n').filter(Boolean) };
}

function firmwareOf(module: string): string[] {
  const path = join(kdir, dep.get(norm(module))!.path);
  return execaSync('modinfo', ['-F', 'firmware', path]).stdout.split('\n').filter(Boolean);
}

beforeAll(() => {
  for (const f of [modulesRoot, pxeInitramfs, hostInitramfs])
    if (!existsSync(f)) throw new Error(`${f} is missing: run make image pxe (as root) first`);
  const kvers = readdirSync(modulesRoot);
  if (kvers.length !== 1) throw new Error(`${modulesRoot}: expected one kernel, found ${kvers.join(', ') || 'none'}: run make image-clean image`);
  kdir = join(modulesRoot, kvers[0]!);
  dep = new Map();
  for (const line of readFileSync(join(kdir, 'modules.dep'), 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const [path, rest] = line.split(':');
    dep.set(norm(path!), { path: path!, deps: (rest ?? '').split(/\s+/).filter(Boolean) });
  }
  builtin = new Set(readFileSync(join(kdir, 'modules.builtin'), 'utf8').split('\n').filter(Boolean).map(norm));
});

test('the list names drivers of every family', () => {
  expect(new Set(listed.map((l) => l.family))).toEqual(new Set(['nic', 'storage', 'usb', 'platform']));
  expect(listed.length).toBeGreaterThanOrEqual(50);
});

describe('the OS tree', () => {
  test.each(listed)('$family $module is there with its dependencies and firmware', ({ module }) => {
    const entry = dep.get(norm(module));
    if (!entry) {
      expect(builtin.has(norm(module)), `${module}: neither in modules.dep nor built in`).toBe(true);
      return;
    }
    for (const file of [entry.path, ...entry.deps]) expect(existsSync(join(kdir, file)), `${file} (for ${module})`).toBe(true);
    for (const fw of firmwareOf(module)) expect(existsSync(join(firmwareRoot, fw)), `firmware ${fw} (for ${module})`).toBe(true);
  });
});

test('every module the trim kept has the dependencies the untrimmed tree names (kvm_amd needs ccp)', () => {
  const base = readFileSync(join(repo, '.cache/image/base.path'), 'utf8').trim();
  const untrimmed = readFileSync(join(repo, base, 'usr/lib/modules', basename(kdir), 'modules.dep'), 'utf8');
  const lacking: string[] = [];
  for (const line of untrimmed.split('\n')) {
    const [path, rest] = line.split(':');
    if (!path || !existsSync(join(kdir, path))) continue;
    for (const d of (rest ?? '').split(/\s+/).filter(Boolean)) if (!existsSync(join(kdir, d))) lacking.push(`${path} needs ${d}`);
  }
  expect(lacking).toEqual([]);
});

describe('the PXE installer initramfs', () => {
  let pxe: ReturnType<typeof initramfs>;
  beforeAll(() => {
    pxe = initramfs(pxeInitramfs);
  });
  test.each(listed.filter((l) => l.family !== 'platform'))('$family $module loads after its dependencies, with its firmware', ({ module }) => {
    const entry = dep.get(norm(module));
    if (!entry) return expect(builtin.has(norm(module))).toBe(true);
    const at = (m: string) => pxe.loadOrder.findIndex((l) => norm(l) === norm(m));
    expect(at(module), `${module} in lib/modules/load-order`).toBeGreaterThanOrEqual(0);
    for (const d of entry.deps) expect(at(d), `${d} before ${module}`).toBeGreaterThanOrEqual(0);
    for (const d of entry.deps) expect(at(d)).toBeLessThan(at(module));
    for (const fw of firmwareOf(module)) expect(pxe.files.has(`lib/firmware/${fw}`), `firmware ${fw} (for ${module})`).toBe(true);
  });
  test('carries wipefs for --device auto', () => {
    expect(pxe.files.has('usr/sbin/wipefs')).toBe(true);
  });
});

describe('the host initramfs', () => {
  let host: ReturnType<typeof initramfs>;
  beforeAll(() => {
    host = initramfs(hostInitramfs);
  });
  test.each(listed.filter((l) => l.family === 'storage' || l.family === 'usb'))('$family $module reaches the disk before the slot is mounted', ({ module }) => {
    if (!dep.get(norm(module))) return expect(builtin.has(norm(module))).toBe(true);
    expect(host.loadOrder.some((l) => norm(l) === norm(module)), `${module} in the host's load-order`).toBe(true);
  });
  test('loads the drivers by modalias from a table of every storage driver with a device alias', () => {
    const read = (f: string) => execaSync('sh', ['-c', 'zstd -dc "$1" | cpio -i --quiet --to-stdout "$2"', 'sh', hostInitramfs, f]).stdout;
    const table = read('lib/modules/hw-table.sh');
    const always = read('lib/modules/always').split('\n');
    expect(host.files.has('lib/modules/modalias.sh')).toBe(true);
    for (const m of ['dm-verity', 'erofs', 'ext4', 'overlay']) expect(always.some((l) => norm(l) === norm(m)), `${m} always loaded`).toBe(true);
    const aliases = readFileSync(join(kdir, 'modules.alias'), 'utf8');
    for (const { module } of listed.filter((l) => l.family === 'storage' || l.family === 'usb')) {
      const device = new RegExp(`^alias (pci|virtio|scsi|usb|vmbus|acpi\\*):\\S+ ${norm(module)}$`, 'm');
      if (device.test(aliases)) expect(table, `${module} in hw-table.sh`).toContain(`hwdep_${norm(module)}='`);
    }
  });
});
