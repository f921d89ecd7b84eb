/**
 * The processes of a systemd-ns guest: `unshare` into new pid, mount, uts, ipc and cgroup
 * namespaces, in a cgroup of its own on the host's cgroup2 hierarchy (which systemd sees
 * as its whole /sys/fs/cgroup), a shell making the mounts nspawn would make and then
 * becoming systemd; and killing all of it again.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';

export const cgroupParent = '/sys/fs/cgroup/unified/keel-ns';

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

export interface GuestSpawn {
  /** The guest's temp dir (init.sh is written there). */
  dir: string;
  root: string;
  name: string;
  cgroup: string;
  /** systemd's console output goes here. */
  consoleLog: string;
}

/** Starts unshare (in the guest's cgroup) running init.sh; its forked child becomes systemd. */
export async function spawnGuest(g: GuestSpawn): Promise<ChildProcess> {
  await fs.writeFile(path.join(g.dir, 'init.sh'), initScript);
  await fs.mkdir(g.cgroup, { recursive: true });
  const consoleFd = await fs.open(g.consoleLog, 'a');
  const unshare = ['unshare', '--pid', '--fork', '--kill-child', '--mount', '--uts', '--ipc', '--cgroup',
    '--propagation', 'private', 'sh', `${g.dir}/init.sh`, g.root, g.name];
  const child = spawn('sh', ['-c', `echo $$ > ${g.cgroup}/cgroup.procs && exec "$@"`, 'sh', ...unshare], {
    stdio: ['ignore', consoleFd.fd, consoleFd.fd],
  });
  await consoleFd.close();
  child.on('error', () => {});
  return child;
}

/** The host pid of unshare's forked child, once it has become systemd. */
export async function guestInitPid(child: ChildProcess, logs: () => Promise<string>): Promise<number> {
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

export async function killTree(cgroup: string, pid: number, child: ChildProcess | undefined): Promise<void> {
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

/** `killTree` for a process `exit` handler: everything in the cgroup, then PID 1. */
export function killTreeSync(cgroup: string, pid: number): void {
  try {
    if (existsSync(cgroup)) execFileSync('sh', ['-c', `echo 1 > ${cgroup}/cgroup.kill`]);
    if (pid) process.kill(pid, 'SIGKILL');
  } catch {}
}

export async function removeCgroup(cgroup: string): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    if (!existsSync(cgroup)) return;
    const r = await execa('find', [cgroup, '-depth', '-type', 'd', '-exec', 'rmdir', '{}', ';'], { reject: false });
    if (r.exitCode === 0 && !existsSync(cgroup)) return;
    await sleep(20);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
