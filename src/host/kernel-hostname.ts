/**
 * The running (kernel) hostname. Writing /proc/sys/kernel/hostname is what hostname(1)
 * does (sethostname), without a program or a transient unit: under TCG the unit cost a
 * first boot 0.3 s of CPU (docs/boot.md). The name is the caller's UTS namespace's, so it
 * is right only for a process that shares that namespace with the systemd it manages
 * (`sharesNamespaceWithSystemd('uts')`, systemd-namespace.ts).
 */
import { writeFile } from 'node:fs/promises';

/** Sets this UTS namespace's hostname; the kernel refuses a name over 64 bytes (EINVAL). */
export async function writeKernelHostname(name: string, proc = '/proc'): Promise<void> {
  await writeFile(`${proc}/sys/kernel/hostname`, name);
}
