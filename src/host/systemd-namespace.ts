/**
 * Whether keel runs in the same kernel namespace as the systemd it manages: on a booted host,
 * as one of its services, it does; under `KEEL_SYSTEMD_BUS` (systemd as PID 1 of its own
 * namespaces, in tests) it does not. What keel reads or sets itself (the hostname, the
 * routing table) is then the host's, not only its own.
 */
import { readFile, readlink } from 'node:fs/promises';

/**
 * True when this process and PID 1 share the namespace `kind` and PID 1 is systemd. False
 * when either cannot be read (another PID namespace's init, no /proc).
 */
export async function sharesNamespaceWithSystemd(kind: 'uts' | 'net', proc = '/proc'): Promise<boolean> {
  try {
    const [own, init, comm] = await Promise.all([readlink(`${proc}/self/ns/${kind}`), readlink(`${proc}/1/ns/${kind}`), readFile(`${proc}/1/comm`, 'utf8')]);
    return own === init && comm.trim() === 'systemd';
  } catch {
    return false;
  }
}
