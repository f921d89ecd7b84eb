/**
 * The running (kernel) hostname. Writing /proc/sys/kernel/hostname is what hostname(1)
 * does (sethostname), without a program or a transient unit: under TCG the unit cost a
 * first boot 0.3 s of CPU (docs/boot.md). The name is the caller's UTS namespace's, so it
 * is right only for a process that shares that namespace with the systemd it manages.
 */
import { readFile, readlink, writeFile } from 'node:fs/promises';

/**
 * True when this process and PID 1 share one UTS namespace and PID 1 is systemd: on a
 * booted host, a service of its systemd. False when either cannot be read (another PID
 * namespace's init, no /proc), so the caller falls back to setting the name inside systemd.
 */
export async function sharesHostnameWithSystemd(proc = '/proc'): Promise<boolean> {
  try {
    const [own, init, comm] = await Promise.all([readlink(`${proc}/self/ns/uts`), readlink(`${proc}/1/ns/uts`), readFile(`${proc}/1/comm`, 'utf8')]);
    return own === init && comm.trim() === 'systemd';
  } catch {
    return false;
  }
}

/** Sets this UTS namespace's hostname; the kernel refuses a name over 64 bytes (EINVAL). */
export async function writeKernelHostname(name: string, proc = '/proc'): Promise<void> {
  await writeFile(`${proc}/sys/kernel/hostname`, name);
}
