/**
 * The facts `--device auto` decides on (an edge): every whole disk under /sys/block with its
 * size, model, removable and read-only flags and partitions; who uses it (mountinfo, swaps,
 * holders); whether it holds the installer's own medium; the signatures `wipefs` finds on it
 * (listing only: without -a wipefs erases nothing); and its names in /dev/disk/by-id and
 * by-path, plus the by-id names udev would give, derived from sysfs, for the network
 * installer's initramfs, which has no udev.
 */
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { RunCommand } from '../host/process.js';
import { findDeviceUsers } from './device-users.js';
import type { DiskFacts } from './disk-choice.js';
import { devNumber, readSysBlock } from './target-device.js';

export interface DiskFactsOptions {
  run: RunCommand;
  mountinfo: string;
  swaps: string;
  /** Files whose disk is the installer's own medium (the local image, /), with what they are. */
  medium: { path: string; what: string }[];
  /** Only these kernel names (tests); default: every disk not under /sys/devices/virtual (loop, ram, zram, dm, md). */
  only?: readonly string[];
  sysRoot?: string;
  devRoot?: string;
}

function read(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '';
  }
}

/** udev's whitespace rule for id parts: trimmed, inner runs of blanks become one '_'. */
function idPart(text: string): string {
  return text.trim().replace(/\s+/g, '_');
}

/** By-id names udev would create, from what sysfs says (virtio serial, NVMe model+serial and EUI/NGUID, SCSI NAA WWN). */
export function derivedIds(sysDisk: string, name: string): string[] {
  const ids: string[] = [];
  const serial = read(join(sysDisk, 'serial')) || read(join(sysDisk, 'device/serial'));
  const model = read(join(sysDisk, 'device/model'));
  const wwid = read(join(sysDisk, 'wwid')) || read(join(sysDisk, 'device/wwid'));
  if (name.startsWith('vd') && serial) ids.push(`virtio-${idPart(serial)}`);
  if (name.startsWith('nvme')) {
    if (model && serial) ids.push(`nvme-${idPart(model)}_${idPart(serial)}`);
    if (wwid) ids.push(`nvme-${idPart(wwid)}`);
  }
  const naa = /^naa\.([0-9a-fA-F]+)$/.exec(wwid);
  if (naa) ids.push(`wwn-0x${naa[1]!.toLowerCase()}`);
  return ids;
}

/** /dev/disk/by-id and by-path links that resolve to /dev/<name>. */
function linkedNames(devRoot: string, name: string): string[] {
  const found: string[] = [];
  for (const dir of ['disk/by-id', 'disk/by-path']) {
    const full = join(devRoot, dir);
    let entries: string[];
    try {
      entries = readdirSync(full);
    } catch {
      continue;
    }
    for (const entry of entries) {
      try {
        if (basename(realpathSync(join(full, entry))) === name) found.push(join(full, entry));
      } catch {
        // a dangling link names nothing
      }
    }
  }
  return found;
}

/** Signature types wipefs lists on `device`; a failure is itself a reason not to choose it. */
async function signatures(run: RunCommand, device: string): Promise<string[]> {
  const r = await run('wipefs', ['--json', device]).catch((error: unknown) => ({ exitCode: -1, stdout: '', stderr: (error as Error).message }));
  if (r.exitCode !== 0) return [`unknown: wipefs failed: ${r.stderr.trim().split('\n')[0] ?? ''}`];
  if (!r.stdout.trim()) return [];
  try {
    const parsed = JSON.parse(r.stdout) as { signatures?: { type?: string }[] };
    return [...new Set((parsed.signatures ?? []).map((s) => String(s.type ?? 'unknown')))];
  } catch {
    return ['unknown: wipefs printed no JSON'];
  }
}

/** The facts of every whole disk the rule considers. */
export async function readDiskFacts(opts: DiskFactsOptions): Promise<DiskFacts[]> {
  const sysRoot = opts.sysRoot ?? '/sys';
  const devRoot = opts.devRoot ?? '/dev';
  const mediumNums = new Map<string, string>();
  for (const m of opts.medium) {
    try {
      mediumNums.set(devNumber(statSync(m.path).dev), `holds ${m.what}`);
    } catch {
      // a medium that is not there holds nothing
    }
  }
  const disks: DiskFacts[] = [];
  for (const name of readdirSync(join(sysRoot, 'block')).sort()) {
    const sysDisk = realpathSync(join(sysRoot, 'block', name));
    if (opts.only ? !opts.only.includes(name) : sysDisk.includes('/devices/virtual/')) continue;
    const path = join(devRoot, name);
    const target = readSysBlock(sysDisk, path);
    // SCSI and NVMe disks name a model; a virtio disk's device/vendor is only a PCI id (0x1af4).
    const model = read(join(sysDisk, 'device/model'));
    const vendor = model ? read(join(sysDisk, 'device/vendor')) : '';
    const medium = target.devNums.map((n) => mediumNums.get(n)).find(Boolean);
    disks.push({
      name,
      path,
      sizeBytes: target.sizeBytes,
      model: [vendor, model].filter(Boolean).join(' '),
      removable: read(join(sysDisk, 'removable')) === '1',
      readOnly: target.readOnly,
      aliases: [...linkedNames(devRoot, name), ...derivedIds(sysDisk, name)],
      signatures: target.sizeBytes > 0 ? await signatures(opts.run, path) : [],
      partitions: target.names.slice(1),
      users: findDeviceUsers(target, opts.mountinfo, opts.swaps),
      medium,
    });
  }
  return disks;
}
