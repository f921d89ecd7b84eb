/**
 * The file tree of a systemd-ns guest: the cached rootfs as the lower layer of an overlay
 * in the guest's temp dir (a test never pollutes the cache), the files a test asks for,
 * a host-side tmpfs on /run (so the host reaches the guest's bus), and bind mounts.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, realpathSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';

/** A host path made visible inside the guest. */
export interface Bind {
  source: string;
  /** Absolute path inside the guest; created (as a dir or an empty file) if missing. */
  target: string;
  readOnly?: boolean;
}

export interface TreeOptions {
  /** The guest's hostname. */
  name: string;
  /** The cached rootfs: the overlay's lower layer. */
  lower: string;
  /** Guest path → content, written before boot. */
  files: Record<string, string>;
  binds: Bind[];
  /** Bind the host's node binary at /usr/local/bin/node. */
  withNode: boolean;
}

/** Mounts the guest's root at `<dir>/root` and fills it; returns that path. */
export async function prepareTree(dir: string, options: TreeOptions): Promise<string> {
  const root = path.join(dir, 'root');
  await fs.mkdir(path.join(dir, 'upper'));
  await fs.mkdir(path.join(dir, 'work'));
  await fs.mkdir(root);
  await run('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${options.lower},upperdir=${dir}/upper,workdir=${dir}/work`, root]);
  await fs.writeFile(path.join(root, 'etc/machine-id'), `${randomBytes(16).toString('hex')}\n`);
  await fs.writeFile(path.join(root, 'etc/hostname'), `${options.name}\n`);
  for (const [file, content] of Object.entries(options.files)) {
    const host = path.join(root, file);
    await fs.mkdir(path.dirname(host), { recursive: true });
    await fs.writeFile(host, content);
  }
  await run('mount', ['-t', 'tmpfs', '-o', 'mode=755', 'tmpfs', path.join(root, 'run')]);
  // podman's storage cannot live on the overlay: give it a plain directory of the host's fs.
  await fs.mkdir(path.join(dir, 'containers'));
  const binds: Bind[] = [{ source: path.join(dir, 'containers'), target: '/var/lib/containers' }];
  if (options.withNode) binds.push({ source: realpathSync(process.execPath), target: '/usr/local/bin/node', readOnly: true });
  for (const bind of [...binds, ...options.binds]) await bindInto(root, bind);
  return root;
}

async function bindInto(root: string, bind: Bind): Promise<void> {
  const target = path.join(root, bind.target);
  const isDir = (await fs.stat(bind.source)).isDirectory();
  if (isDir) await fs.mkdir(target, { recursive: true });
  else {
    await fs.mkdir(path.dirname(target), { recursive: true });
    if (!existsSync(target)) await fs.writeFile(target, '');
  }
  await run('mount', ['--bind', bind.source, target]);
  if (bind.readOnly) await run('mount', ['-o', 'remount,bind,ro', target]);
}

/** Unmounts everything under `root`, retrying while it is busy, lazily at last. */
export async function unmountTree(root: string): Promise<void> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const r = await execa('umount', ['-R', root], { reject: false, all: true });
    const mounted = await execa('findmnt', ['-M', root], { reject: false });
    if (mounted.exitCode !== 0) return;
    if (r.exitCode !== 0) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await execa('umount', ['-R', '-l', root], { reject: false });
}

/** `unmountTree` and removal of the guest's dir for a process `exit` handler. */
export function removeTreeSync(dir: string, root: string): void {
  try {
    execFileSync('umount', ['-R', '-l', root], { stdio: 'ignore' });
  } catch {}
  try {
    execFileSync('rm', ['-rf', dir], { stdio: 'ignore' });
  } catch {}
}

/** Runs a host command, throwing with its output when it fails. */
export async function run(file: string, args: string[]): Promise<void> {
  const r = await execa(file, args, { reject: false, all: true });
  if (r.exitCode !== 0) throw new Error(`${file} ${args.join(' ')} exited ${r.exitCode}: ${r.all}`);
}
