import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KeelError } from '../errors.js';

/**
 * Facts about the running host that the updater reads, all under a root directory so tests
 * use a directory tree: the running version (/usr/lib/keel/version, else keel's os-release
 * VERSION_ID), the machine id, and the booted slot (`keel.slot=` on /proc/cmdline, else the
 * initramfs's /run/keel/boot.env), active user sessions, and the pinned update trust key.
 */
export async function runningVersionOf(root: string): Promise<string | undefined> {
  const direct = (await readFile(join(root, 'usr/lib/keel/version'), 'utf8').catch(() => '')).trim();
  if (direct) return direct;
  for (const path of ['etc/os-release', 'usr/lib/os-release']) {
    const text = await readFile(join(root, path), 'utf8').catch(() => '');
    const m = /^VERSION_ID="?([^"\n]+)"?$/m.exec(text);
    // Only keel's own os-release names a keel version; a development host's is not one.
    if (m?.[1] && /^ID="?keel"?$/m.test(text)) return m[1];
  }
  return undefined;
}

/** /etc/machine-id, or undefined when empty (first boot not done). */
export async function machineIdOf(root: string): Promise<string | undefined> {
  const id = (await readFile(join(root, 'etc/machine-id'), 'utf8').catch(() => '')).trim();
  return id || undefined;
}

/** The slot named by `keel.slot=` in a kernel command line. */
export function slotOfCmdline(cmdline: string): 'a' | 'b' | undefined {
  const m = /(?:^|\s)keel\.slot=([ab])(?:\s|$)/.exec(cmdline);
  return m ? (m[1] as 'a' | 'b') : undefined;
}

/** The booted slot: /proc/cmdline first, then what the initramfs recorded. */
export async function bootedSlotOf(root: string): Promise<'a' | 'b' | undefined> {
  const fromCmdline = slotOfCmdline(await readFile(join(root, 'proc/cmdline'), 'utf8').catch(() => ''));
  if (fromCmdline) return fromCmdline;
  const env = await readFile(join(root, 'run/keel/boot.env'), 'utf8').catch(() => '');
  const m = /^SLOT=([ab])$/m.exec(env);
  return m ? (m[1] as 'a' | 'b') : undefined;
}

/**
 * Whether the booted slot is mapped through dm-verity, as the initramfs recorded it in
 * /run/keel/boot.env: `VERITY=<root hash>` (verified, the hash it opened the slot with),
 * `VERITY=off` (keel.verity=off), or nothing readable (an older initramfs, or not a keel boot).
 */
export type BootVerity = { state: 'on'; rootHash: string } | { state: 'off' } | { state: 'unknown' };

/** Reads VERITY= from the text of boot.env; anything but a root hash or `off` is unknown. */
export function bootVerityOfEnv(env: string): BootVerity {
  const value = /^VERITY=(\S*)\s*$/m.exec(env)?.[1];
  if (value === 'off') return { state: 'off' };
  if (value && /^[0-9a-f]{64}$/.test(value)) return { state: 'on', rootHash: value };
  return { state: 'unknown' };
}

/** The booted slot's verity state under `root`. */
export async function bootVerityOf(root: string): Promise<BootVerity> {
  return bootVerityOfEnv(await readFile(join(root, 'run/keel/boot.env'), 'utf8').catch(() => ''));
}

/** Active user sessions, as logind lists them in /run/systemd/sessions. */
export async function userSessionsOf(root: string): Promise<number> {
  const dir = join(root, 'run/systemd/sessions');
  let count = 0;
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (name.includes('.')) continue;
    const text = await readFile(join(dir, name), 'utf8').catch(() => '');
    if (/^CLASS=user$/m.test(text) && /^ACTIVE=1$/m.test(text)) count++;
  }
  return count;
}

/** The pinned trust key named by the config, read under the root. */
export async function trustKeyOf(root: string, path: string): Promise<string> {
  try {
    return await readFile(join(root, path), 'utf8');
  } catch (error) {
    throw new KeelError('not-found', `${join(root, path)}: no pinned update trust key; the agent cannot verify releases`, { cause: error });
  }
}
