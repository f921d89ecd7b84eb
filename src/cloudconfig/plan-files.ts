/**
 * `write_files`: each entry becomes one write (or append). Paths must be absolute, are
 * compared after normalising (`/etc/./a` is `/etc/a`), and may not be under /usr, which
 * is the read-only OS image on keel as on CoreOS. Content is bounded so a config cannot
 * fill the state partition.
 */
import { posix } from 'node:path';
import type { CloudConfig } from './model.js';
import type { PlanBuilder } from './plan-context.js';

/** Largest single file a cloud-config may write. */
export const maxFileBytes = 16 * 1024 * 1024;
/** Largest total of all files a cloud-config may write. */
export const maxTotalBytes = 64 * 1024 * 1024;

/** Why a path cannot be written, or undefined when it can. */
export function unwritablePath(path: string): string | undefined {
  if (!path.startsWith('/')) return 'is relative; expected an absolute path';
  if (path.includes('\0')) return 'contains a NUL byte';
  const normal = posix.normalize(path);
  if (normal === '/' || normal.endsWith('/') || path.endsWith('/')) return 'names a directory; expected a file path';
  if (normal === '/usr' || normal.startsWith('/usr/')) return 'is under /usr, which is read-only on keel';
  return undefined;
}

export function planFiles(b: PlanBuilder, config: CloudConfig | undefined): void {
  let total = 0;
  for (const [i, f] of (config?.writeFiles ?? []).entries()) {
    const why = unwritablePath(f.path);
    if (why) {
      b.refuse(`write_files[${i}].path: ${JSON.stringify(f.path)} ${why}; refusing to apply`);
      continue;
    }
    if (f.content.length > maxFileBytes) {
      b.refuse(`write_files[${i}].content: ${f.content.length} bytes for ${f.path}; expected at most ${maxFileBytes}; refusing to apply`);
      continue;
    }
    total += f.content.length;
    if (!Number.isInteger(f.permissions) || f.permissions < 0 || f.permissions > 0o7777) {
      b.refuse(`write_files[${i}].permissions: ${f.permissions} is not a file mode (0 to 07777); refusing to apply`);
      continue;
    }
    b.add({
      kind: 'write-file',
      file: { path: posix.normalize(f.path), content: f.content, mode: f.permissions, ...(f.owner ? { owner: f.owner } : {}), ...(f.append ? { append: true } : {}) },
    });
  }
  if (total > maxTotalBytes) b.refuse(`write_files: ${total} bytes in all; expected at most ${maxTotalBytes}; refusing to apply`);
}
