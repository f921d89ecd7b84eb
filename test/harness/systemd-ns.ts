/**
 * Boots a real systemd as PID 1 without a VM, for tests that need systemd over D-Bus.
 *
 * The cached rootfs (./rootfs.ts) is the lower layer of an overlay in a fresh temp dir, so
 * a test never pollutes the cache. systemd runs in its own pid, mount, uts, ipc and cgroup
 * namespaces (`unshare`), in a cgroup of its own on the host's cgroup2 hierarchy, which it
 * sees as its whole /sys/fs/cgroup. Its /run is a tmpfs mounted on the host side before the
 * namespaces are made, so the host reaches the bus at `<root>/run/dbus/system_bus_socket`.
 *
 * Measured here: the guest reaches `running` about 0.3 s after the spawn.
 *
 * ```ts
 * const sys = await bootSystemd({ name: 'apply', binds: [{ source: repoRoot, target: '/opt/keel', readOnly: true }] });
 * try { const bus = await SystemdBus.connect({ address: sys.busAddress }); ... } finally { await sys.stop(); }
 * ```
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, realpathSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { ensureRootfs } from './rootfs.js';

/** A host path made visible inside the guest. */
export interface Bind {
  source: string;
  /** Absolute path inside the guest; created (as a dir or an empty file) if missing. */
  target: string;
  readOnly?: boolean;
}

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

export interface ExecOptions {
  input?: string;
  env?: Record<string, string>;
  /** Throw (with the output) when the command exits non-zero. Default true. */
  reject?: boolean;
  timeoutMs?: number;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
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

const cgroupParent = '/sys/fs/cgroup/unified/keel-ns';
const guestPath = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const live = new Set<() => void>();

// Runs in the new namespaces as their PID 1, then becomes systemd. The mounts nspawn would
// make: proc, a read-only sysfs, the cgroup namespace's cgroup2, a minimal /dev, /tmp.
const initScript = `set -eu
R=$1
mount -t proc proc "$R/proc"
mount -t sysfs -o ro sysfs "$R/sys"
mount -t cgroup2 cgroup2 "$R/sys/fs/cgroup"
mount -t tmpfs -o mode=755 tmpfs "$R/dev"
for n in "null 1 3" "zero 1 5" "full 1 7" "random 1 8" "urandom 1 9" "tty 5 0"; do
  set -- $n; mknod -m 666 "$R/dev/$1" c "$2" "$3"
done
ln -s /proc/self/fd "$R/dev/fd"
ln -s /proc/self/fd/0 "$R/dev/stdin"; ln -s /proc/self/fd/1 "$R/dev/stdout"; ln -s /proc/self/fd/2 "$R/dev/stderr"
mkdir "$R/dev/pts" "$R/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts "$R/dev/pts"
ln -s pts/ptmx "$R/dev/ptmx"
mount -t tmpfs -o mode=1777 tmpfs "$R/dev/shm"
mount -t tmpfs -o mode=1777 tmpfs "$R/tmp"
hostname "$2"
cd "$R"; mkdir -p .oldroot; pivot_root . .oldroot; cd /
umount -l /.oldroot; rmdir /.oldroot
exec env -i container=keel-test /lib/systemd/systemd
`;

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
  // Last resort when the test process exits without calling stop().
  const stopSync = (): void => {
    try {
      if (existsSync(cgroup)) execFileSync('sh', ['-c', `echo 1 > ${cgroup}/cgroup.kill`]);
      if (pid) process.kill(pid, 'SIGKILL');
    } catch {}
    try {
      execFileSync('umount', ['-R', '-l', root], { stdio: 'ignore' });
    } catch {}
    try {
      execFileSync('rm', ['-rf', dir], { stdio: 'ignore' });
    } catch {}
  };
  live.add(stopSync);

  const exec = async (argv: string[], opts: ExecOptions = {}): Promise<ExecResult> => {
    const ns = ['-t', String(pid), '-m', '-u', '-i', '-p', '-C', '-r', '-w', '--'];
    // nsenter forks to enter the pid namespace; killing only nsenter (execa's timeout) leaves
    // the command running with our pipes open, and the exec never returns. So nsenter gets a
    // process group of its own, and a timeout kills the whole group.
    const subprocess = execa('nsenter', [...ns, ...argv], {
      reject: false,
      stripFinalNewline: false,
      extendEnv: false,
      detached: true,
      env: { PATH: guestPath, HOME: '/root', LANG: 'C.UTF-8', SYSTEMD_COLORS: '0', ...opts.env },
      ...(opts.input !== undefined ? { input: opts.input } : {}),
    });
    let timedOut = false;
    const timer = opts.timeoutMs === undefined ? undefined : setTimeout(() => {
      timedOut = true;
      try {
        if (subprocess.pid) process.kill(-subprocess.pid, 'SIGKILL');
      } catch {}
    }, opts.timeoutMs);
    const result = await subprocess.finally(() => clearTimeout(timer));
    const out = {
      exitCode: result.exitCode ?? -1,
      stdout: String(result.stdout ?? ''),
      stderr: String(result.stderr ?? '') + (timedOut ? `\n(killed by the test harness after ${opts.timeoutMs} ms)\n` : ''),
    };
    if ((opts.reject ?? true) && out.exitCode !== 0) {
      throw new Error(
        `guest ${name}: \`${argv.join(' ')}\` exited ${out.exitCode}${timedOut ? ` (killed after ${opts.timeoutMs} ms)` : ''}\n` +
          `stdout:\n${out.stdout}\nstderr:\n${out.stderr}`,
      );
    }
    return out;
  };

  const logs = async (): Promise<string> => {
    const consoleText = await fs.readFile(consoleLog, 'utf8').catch(() => '');
    let journal = '(guest not running)';
    if (pid && !stopped && child?.exitCode === null) {
      const j = await exec(['journalctl', '-b', '--no-pager', '-o', 'short-monotonic'], {
        reject: false,
        timeoutMs: 10_000,
      }).catch((e: unknown) => ({ stdout: '', stderr: String(e), exitCode: -1 }));
      journal = j.stdout + j.stderr;
    }
    return `--- console of ${name} ---\n${consoleText}\n--- journal of ${name} ---\n${journal}`;
  };

  try {
    await fs.mkdir(path.join(dir, 'upper'));
    await fs.mkdir(path.join(dir, 'work'));
    await fs.mkdir(root);
    await run('mount', ['-t', 'overlay', 'overlay', '-o',
      `lowerdir=${rootfs.path},upperdir=${dir}/upper,workdir=${dir}/work`, root]);
    await fs.writeFile(path.join(root, 'etc/machine-id'), `${randomBytes(16).toString('hex')}\n`);
    await fs.writeFile(path.join(root, 'etc/hostname'), `${name}\n`);
    for (const [file, content] of Object.entries(options.files ?? {})) {
      const host = path.join(root, file);
      await fs.mkdir(path.dirname(host), { recursive: true });
      await fs.writeFile(host, content);
    }
    await run('mount', ['-t', 'tmpfs', '-o', 'mode=755', 'tmpfs', path.join(root, 'run')]);
    // podman's storage cannot live on the overlay: give it a plain directory of the host's fs.
    await fs.mkdir(path.join(dir, 'containers'));
    const binds: Bind[] = [{ source: path.join(dir, 'containers'), target: '/var/lib/containers' }];
    if (options.withNode ?? true) {
      binds.push({ source: realpathSync(process.execPath), target: '/usr/local/bin/node', readOnly: true });
    }
    for (const bind of [...binds, ...(options.binds ?? [])]) await bindInto(root, bind);
    await fs.writeFile(path.join(dir, 'init.sh'), initScript);
    await fs.mkdir(cgroup, { recursive: true });

    const started = performance.now();
    const consoleFd = await fs.open(consoleLog, 'a');
    const unshare = ['unshare', '--pid', '--fork', '--kill-child', '--mount', '--uts', '--ipc', '--cgroup',
      '--propagation', 'private', 'sh', `${dir}/init.sh`, root, name];
    child = spawn('sh', ['-c', `echo $$ > ${cgroup}/cgroup.procs && exec "$@"`, 'sh', ...unshare], {
      stdio: ['ignore', consoleFd.fd, consoleFd.fd],
    });
    await consoleFd.close();
    child.on('error', () => {});
    pid = await guestInitPid(child, () => logs());
    const systemState = await waitRunning(exec, child, options.bootTimeoutMs ?? 30_000, () => logs());
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

/** Runs a host command, throwing with its output when it fails. */
async function run(file: string, args: string[]): Promise<void> {
  const r = await execa(file, args, { reject: false, all: true });
  if (r.exitCode !== 0) throw new Error(`${file} ${args.join(' ')} exited ${r.exitCode}: ${r.all}`);
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

/** The host pid of unshare's forked child, which becomes systemd. */
async function guestInitPid(child: ChildProcess, logs: () => Promise<string>): Promise<number> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`systemd-ns: unshare exited ${child.exitCode} before systemd started\n${await logs()}`);
    }
    const text = await fs.readFile(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').catch(() => '');
    const first = Number(text.trim().split(/\s+/)[0]);
    // Not done until the child has exec'd systemd: before that its root is still the host's.
    if (first > 0) {
      const exe = await fs.readlink(`/proc/${first}/exe`).catch(() => '');
      if (exe.endsWith('/systemd')) return first;
    }
    await sleep(10);
  }
  throw new Error(`systemd-ns: no systemd process 10 s after unshare; giving up\n${await logs()}`);
}

async function waitRunning(
  exec: (argv: string[], o?: ExecOptions) => Promise<ExecResult>,
  child: ChildProcess,
  timeoutMs: number,
  logs: () => Promise<string>,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let state = '';
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`systemd-ns: systemd exited ${child.exitCode} while booting\n${await logs()}`);
    state = (await exec(['systemctl', 'is-system-running'], { reject: false, timeoutMs: 5000 })).stdout.trim();
    if (state === 'running' || state === 'degraded') return state;
    if (state === 'maintenance' || state === 'stopping') break;
    await sleep(25);
  }
  const failed = await exec(['systemctl', '--failed', '--no-pager'], { reject: false, timeoutMs: 5000 }).catch(() => undefined);
  throw new Error(
    `systemd-ns: system state is '${state}' after ${timeoutMs} ms; expected running or degraded\n` +
      `${failed?.stdout ?? ''}\n${await logs()}`,
  );
}

async function killTree(cgroup: string, pid: number, child: ChildProcess | undefined): Promise<void> {
  // Killing the pid namespace's init kills every process in it, and unshare reaps it; only
  // then cgroup.kill catches strays (earlier, it would kill unshare and orphan a zombie).
  if (pid) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
  if (child && child.exitCode === null && child.signalCode === null) {
    await Promise.race([new Promise((resolve) => child.once('exit', resolve)), sleep(5000)]);
  }
  await fs.writeFile(path.join(cgroup, 'cgroup.kill'), '1').catch(() => {});
}

async function unmountTree(root: string): Promise<void> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const r = await execa('umount', ['-R', root], { reject: false, all: true });
    const mounted = await execa('findmnt', ['-M', root], { reject: false });
    if (mounted.exitCode !== 0) return;
    if (r.exitCode !== 0) await sleep(50);
  }
  await execa('umount', ['-R', '-l', root], { reject: false });
}

async function removeCgroup(cgroup: string): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    if (!existsSync(cgroup)) return;
    const r = await execa('find', [cgroup, '-depth', '-type', 'd', '-exec', 'rmdir', '{}', ';'], { reject: false });
    if (r.exitCode === 0 && !existsSync(cgroup)) return;
    await sleep(20);
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

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

process.on('exit', () => {
  for (const stop of live) stop();
});
