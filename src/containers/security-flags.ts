/**
 * The podman flags of a spec's confinement switches, and the one-line summary the unit
 * carries so that `keel containers render` shows every switch, the defaults included.
 */
import { capabilityFlagName } from './capabilities.js';
import type { ContainerSpec } from './spec.js';

/** Where Debian's podman (golang-github-containers-common) keeps its default seccomp profile. */
export const podmanSeccompProfile = '/usr/share/containers/seccomp.json';

/** Mount points that get a tmpfs under a read-only root: services write pid files and scratch data there. */
export const writableTmpfs = ['/tmp', '/run'];

function seccompOption(profile: string, defaultPath: string): string {
  return `seccomp=${profile === 'default' ? defaultPath : profile}`;
}

/** The read-only root and its tmpfs mounts (a volume mounted on one of them wins). */
function rootfsFlags(spec: ContainerSpec): string[] {
  if (!spec.readOnlyRootfs) return [];
  const targets = new Set(spec.volumes.map((v) => v.target.replace(/\/+$/, '')));
  // podman's own --read-only-tmpfs list (/tmp, /var/tmp, /run, /dev) is replaced by an explicit one.
  return ['--read-only', '--read-only-tmpfs=false', ...writableTmpfs.filter((t) => !targets.has(t)).map((t) => `--tmpfs=${t}`)];
}

/**
 * The flags, after `run` and before the image. `privileged` replaces the capability,
 * seccomp, AppArmor and user-namespace flags (podman would ignore or refuse them).
 */
export function securityFlags(spec: ContainerSpec, seccompDefaultPath = podmanSeccompProfile): string[] {
  const sec = spec.security;
  const flags: string[] = [];
  if (sec.privileged) flags.push('--privileged');
  if (sec.noNewPrivileges) flags.push('--security-opt=no-new-privileges');
  if (!sec.privileged) {
    if (sec.capabilities.includes('ALL')) flags.push('--cap-add=all');
    else {
      flags.push('--cap-drop=all');
      if (sec.capabilities.length) flags.push(`--cap-add=${sec.capabilities.map(capabilityFlagName).join(',')}`);
    }
    flags.push(`--security-opt=${seccompOption(sec.seccomp, seccompDefaultPath)}`);
    // podman applies its own AppArmor profile when the kernel has AppArmor; naming it would fail where it has not.
    if (sec.apparmor === 'unconfined') flags.push('--security-opt=apparmor=unconfined');
    flags.push(`--userns=${sec.userns}`);
    // A user namespace cannot mount sysfs for a network namespace it does not own (runc fails
    // with EPERM), so a host-network container sees the host's /sys, bound read-only, as rootless podman does.
    if (sec.userns === 'auto' && spec.network === 'host' && !spec.volumes.some((v) => v.target.replace(/\/+$/, '') === '/sys')) flags.push('--volume=/sys:/sys:ro');
  }
  return [...flags, ...rootfsFlags(spec)];
}

/** One line naming every switch, for the unit's header. */
export function securitySummary(spec: ContainerSpec): string {
  const sec = spec.security;
  const rootfs = spec.readOnlyRootfs ? `read_only=true (tmpfs ${writableTmpfs.join(' ')})` : 'read_only=false';
  if (sec.privileged) return `security: privileged=true (every capability and device, no seccomp, AppArmor or user namespace), no_new_privileges=${sec.noNewPrivileges}, ${rootfs}`;
  const apparmor = sec.apparmor === 'default' ? "default (podman's profile where the kernel has AppArmor enabled)" : 'unconfined';
  return [
    'security:',
    `no_new_privileges=${sec.noNewPrivileges},`,
    `capabilities=${sec.capabilities.length ? sec.capabilities.join(' ') : 'none'},`,
    `${rootfs},`,
    `userns=${sec.userns},`,
    `seccomp=${sec.seccomp},`,
    `apparmor=${apparmor},`,
    'privileged=false',
  ].join(' ');
}
