/**
 * The cached Debian 12 rootfs that tests boot systemd in. Built once by
 * scripts/make-test-rootfs.sh (debootstrap, about a minute) and reused by every test on
 * this machine; the script prints the tree's path, keyed by a hash of its package list.
 */
import { execa } from 'execa';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** The work tree's top directory (this file is test/harness/rootfs.ts). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface Rootfs {
  /** Host path of the read-only lower tree; never write into it, boot an overlay on top. */
  path: string;
  /** How long the call took: about 60 s when it built, milliseconds when cached. */
  elapsedMs: number;
}

/**
 * Returns the cached rootfs, building it first if this machine has none. Throws with the
 * script's output when debootstrap fails, so a test that needs systemd fails loudly.
 */
export async function ensureRootfs(): Promise<Rootfs> {
  const started = performance.now();
  const script = path.join(repoRoot, 'scripts', 'make-test-rootfs.sh');
  const result = await execa(script, [], { reject: false, all: true, timeout: 15 * 60_000 });
  const lines = (result.stdout ?? '').trim().split('\n');
  const tree = lines[lines.length - 1] ?? '';
  if (result.exitCode !== 0 || !tree.startsWith('/')) {
    throw new Error(
      `test rootfs: ${script} exited ${result.exitCode}; expected the path of a built rootfs; ` +
        `tests that boot systemd cannot run:\n${result.all ?? ''}`,
    );
  }
  return { path: tree, elapsedMs: performance.now() - started };
}
