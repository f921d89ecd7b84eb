/**
 * Block devices read in keel's own process: the kernel's list of them, and positional reads
 * on one read-only descriptor. The disk datasources find and read their seed images through
 * this instead of blkid and mount, which cost a first boot 0.1-0.3 s per program under
 * emulation and put an image keel did not make through a kernel filesystem driver.
 */
import { readFile, readdir, open as openFile } from 'node:fs/promises';
import path from 'node:path';

/** A device (or image file) open for reading. */
export interface OpenBlockDevice {
  /** Its size in bytes. */
  readonly size: number;
  /** Up to `length` bytes at `offset`; fewer only at its end. */
  read(offset: number, length: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

/**
 * Every block device with a size, as `/dev/NAME` paths: the devices of `/proc/partitions` in
 * the kernel's order (where blkid looks too), then the CD and DVD drives holding a disc. The
 * kernel leaves those out of `/proc/partitions` (removable and unpartitionable), yet they are
 * where libvirt, Proxmox and many hypervisors put a cloud-init ISO (`/dev/sr0`).
 */
export async function listBlockDevices(partitionsFile = '/proc/partitions', sysClassBlock = '/sys/class/block'): Promise<string[]> {
  const text = await readFile(partitionsFile, 'utf8');
  const names: string[] = [];
  for (const line of text.split('\n')) {
    const [, , blocks, name] = line.trim().split(/\s+/);
    if (name && /^\d+$/.test(blocks ?? '') && Number(blocks) > 0 && !name.includes('..')) names.push(name);
  }
  for (const name of (await readdir(sysClassBlock).catch(() => [])).filter((n) => /^sr\d+$/.test(n)).sort()) {
    const sectors = Number((await readFile(path.join(sysClassBlock, name, 'size'), 'utf8').catch(() => '0')).trim());
    if (sectors > 0 && !names.includes(name)) names.push(name);
  }
  return names.map((name) => path.join('/dev', name));
}

/**
 * Opens `file` read-only: a block device (sized from sysfs, as its stat says 0) or a regular
 * file (an image, in tests). Anything else is refused.
 */
export async function openBlockDevice(file: string, sysDevBlock = '/sys/dev/block'): Promise<OpenBlockDevice> {
  const handle = await openFile(file, 'r');
  try {
    const stat = await handle.stat({ bigint: true });
    let size: number;
    if (stat.isFile()) size = Number(stat.size);
    else if (stat.isBlockDevice()) size = (await deviceSectors(stat.rdev, sysDevBlock)) * 512;
    else throw new Error(`${file} is neither a block device nor a regular file`);
    return {
      size,
      async read(offset, length) {
        const bytes = new Uint8Array(length);
        let filled = 0;
        while (filled < length) {
          const { bytesRead } = await handle.read(bytes, filled, length - filled, offset + filled);
          if (bytesRead === 0) break;
          filled += bytesRead;
        }
        return bytes.subarray(0, filled);
      },
      close: () => handle.close(),
    };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** A device's size in 512-byte sectors, from `/sys/dev/block/MAJOR:MINOR/size`. */
async function deviceSectors(rdev: bigint, sysDevBlock: string): Promise<number> {
  // glibc's dev_t: the major in bits 8-19 and 44-63, the minor in bits 0-7 and 20-43.
  const major = ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & 0xfffff000n);
  const minor = (rdev & 0xffn) | ((rdev >> 12n) & 0xffffff00n);
  const text = await readFile(path.join(sysDevBlock, `${major}:${minor}`, 'size'), 'utf8');
  return Number(text.trim());
}
