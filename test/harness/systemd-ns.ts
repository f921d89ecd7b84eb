/**
 * Boots a real systemd as PID 1 without a VM, for tests that need systemd over D-Bus.
 *
 * The cached rootfs (./rootfs.ts) is the lower layer of an overlay in a fresh temp dir, so
 * a test never pollutes the cache. systemd runs in its own pid, mount, uts, ipc and cgroup
 * namespaces (`unshare`), in a cgroup of its own on the host's cgroup2 hierarchy, which it
 * sees as its whole /sys/fs/cgroup. Its /run is a tmpfs mounted on the host side before the
 * namespaces are made, so the host reaches the bus at `<root>/run/dbus/system_bus_socket`.
 * The tree is made in systemd-ns-tree.ts, the processes in systemd-ns-process.ts, commands
 * inside in systemd-ns-exec.ts.
 *
 * Measured here: the guest reaches `running` about 0.3 s after the spawn.
 *
 * ```ts
 * const sys = await bootSystemd({ name: 'apply', binds: [{ source: repoRoot, target: '/opt/keel', readOnly: true }] });
 * try { const bus = await SystemdBus.connect({ address: sys.busAddress }); ... } finally { await sys.stop(); }
 * ```
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { ensureRootfs } from './rootfs.js';
import { guestExec, waitRunning, type ExecOptions, type ExecResult } from './systemd-ns-exec.js';
import { cgroupParent, guestInitPid, killTree, killTreeSync, removeCgroup, spawnGuest } from './systemd-ns-process.js';
import { prepareTree, removeTreeSync, unmountTree, type Bind } from './systemd-ns-tree.js';

export type { ExecOptions, ExecResult } from './systemd-ns-exec.js';
export type { Bind } from './systemd-ns-tree.js';

export interface BootOptions {
  /** Short name for the hostname and logs; letters, digits and `-`. */
  name?: string;
  binds?: Bind[];
  /** Files to write into the guest before it boots, guest path → content. */
  files?: Record<string, string>;
  /** Bind the host's node binary at /usr/local/bin/node so keel can run inside. Default true. */
  withNode?: boolean;
  /** How long systemd gets to reach running or degraded. Default 30 s. */
  bootTimeoutMs?: number;
}

/** A booted guest. Always `stop()` it, in a `finally` or `afterAll`. */
export interface BootedSystemd {
  name: string;
  /** Host path of the guest's `/` (an overlay; its /run is the guest's live /run). */
  root: string;
  /** D-Bus address of the guest's system bus, reachable from the host. */
  busAddress: string;
  /**
   * Address of systemd's private socket. systemd refuses peers outside its pid namespace
   * there (their credentials carry no pid it can see), so use it from `exec` inside the guest.
   */
  privateBusAddress: string;
  /** Host pid of the guest's PID 1. */
  pid: number;
  /** Milliseconds from the spawn to `systemctl is-system-running` saying running/degraded. */
  bootMs: number;
  /** The state systemd reported when the boot was declared done. */
  systemState: string;
  /** Runs argv inside the guest's namespaces, with the guest's root as `/`. */
  exec(argv: string[], options?: ExecOptions): Promise<ExecResult>;
  /** systemd's console output and the guest's journal, for failure messages. */
  logs(): Promise<string>;
  /** Kills everything in the guest, unmounts and removes its temp dir. Idempotent. */
  stop(): Promise<void>;
}

/** Last-resort cleanups of guests whose test process exits without calling stop(). */
const live = new Set<() => void>();

/**
 * Boots systemd in namespaces and resolves once it is running (or degraded). Fails with
 * the console output and journal when it does not get there in time; cleans up on failure.
 */
export async function bootSystemd(options: BootOptions = {}): Promise<BootedSystemd> {
  const name = (options.name ?? 'keel-test').replace(/[^a-zA-Z0-9-]/g, '-').slice(0, 32);
  await removeStaleGuests();
  const rootfs = await ensureRootfs();
  const dir = await fs.mkdtemp('/tmp/keel-ns-');
  const root = path.join(dir, 'root');
  const cgroup = path.join(cgroupParent, path.basename(dir));
  const consoleLog = path.join(dir, 'console.log');
  let child: ChildProcess | undefined;
  let pid = 0;
  let stopped = false;

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    live.delete(stopSync);
    await killTree(cgroup, pid, child);
    await unmountTree(root);
    await removeCgroup(cgroup);
    await fs.rm(dir, { recursive: true, force: true });
  };
  const stopSync = (): void => {
    killTreeSync(cgroup, pid);
    removeTreeSync(dir, root);
  };
  live.add(stopSync);
  const exec = guestExec(name, () => pid);
  const logs = async (): Promise<string> => {
    const consoleText = await fs.readFile(consoleLog, 'utf8').catch(() => '');
    let journal = '(guest not running)';
    if (pid && !stopped && child?.exitCode === null) {
      const j = await exec(['journalctl', '-b', '--no-pager', '-o', 'short-monotonic'], { reject: false, timeoutMs: 10_000 })
        .catch((e: unknown) => ({ stdout: '', stderr: String(e), exitCode: -1 }));
      journal = j.stdout + j.stderr;
    }
    return `--- console of ${name} ---\n${consoleText}\n--- journal of ${name} ---\n${journal}`;
  };

  try {
    await prepareTree(dir, { name, lower: rootfs.path, files: options.files ?? {}, binds: options.binds ?? [], withNode: options.withNode ?? true });
    const started = performance.now();
    child = await spawnGuest({ dir, root, name, cgroup, consoleLog });
    pid = await guestInitPid(child, logs);
    const systemState = await waitRunning(exec, child, options.bootTimeoutMs ?? 30_000, logs);
    const bootMs = performance.now() - started;
    return {
      name, root, pid, bootMs, systemState, exec, logs, stop,
      busAddress: `unix:path=${root}/run/dbus/system_bus_socket`,
      privateBusAddress: 'unix:path=/run/systemd/private',
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Removes what guests of killed test processes left: a /tmp/keel-ns-* dir whose cgroup has
 * no process left (or never got one) and that is over a minute old. The age guard keeps a
 * guest that another test process is booting right now.
 */
export async function removeStaleGuests(): Promise<void> {
  const entries = await fs.readdir('/tmp').catch(() => [] as string[]);
  for (const entry of entries.filter((e) => e.startsWith('keel-ns-'))) {
    const dir = path.join('/tmp', entry);
    const cgroup = path.join(cgroupParent, entry);
    const stat = await fs.stat(dir).catch(() => undefined);
    if (!stat || Date.now() - stat.mtimeMs < 60_000) continue;
    const events = await fs.readFile(path.join(cgroup, 'cgroup.events'), 'utf8').catch(() => 'populated 0');
    if (!/populated 0/.test(events)) continue;
    await unmountTree(path.join(dir, 'root'));
    await removeCgroup(cgroup);
    await fs.rm(dir, { recursive: true, force: true }).catch(() => {});
  }
}

process.on('exit', () => {
  for (const stop of live) stop();
});
