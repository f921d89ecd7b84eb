/**
 * A busybox-only initramfs with a given /init script: lets the harness test itself (markers,
 * reboots, restarts, kills) in seconds, without a built keel image.
 */
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';

/** Writes a gzip'd newc cpio at `path` holding static busybox and `init` as /init. */
export async function makeTinyInitramfs(path: string, init: string): Promise<string> {
  const dir = mkdtempSync(`${path}.root-`);
  try {
    mkdirSync(join(dir, 'bin'));
    mkdirSync(join(dir, 'proc'));
    copyFileSync('/bin/busybox', join(dir, 'bin', 'busybox'));
    writeFileSync(join(dir, 'init'), `#!/bin/busybox sh\n/bin/busybox --install -s /bin\nmount -t proc proc /proc\n${init}`);
    chmodSync(join(dir, 'init'), 0o755);
    await execa('sh', ['-c', `find . | cpio -o -H newc --quiet | gzip -1 > '${path}'`], { cwd: dir });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return path;
}
