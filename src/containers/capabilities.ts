/**
 * Linux capabilities a container keeps. keel drops every capability and adds back a small
 * set that ordinary service images need to start as root and step down to their own user;
 * each one is here with the reason it stays (docs/security.md says the same for users).
 */

/** Every capability, in bit order (`CAP_CHOWN` is bit 0), as Linux 6.x defines them. */
export const capabilityNames = [
  'CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID',
  'SETPCAP', 'LINUX_IMMUTABLE', 'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_ADMIN', 'NET_RAW', 'IPC_LOCK', 'IPC_OWNER',
  'SYS_MODULE', 'SYS_RAWIO', 'SYS_CHROOT', 'SYS_PTRACE', 'SYS_PACCT', 'SYS_ADMIN', 'SYS_BOOT', 'SYS_NICE',
  'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'MKNOD', 'LEASE', 'AUDIT_WRITE', 'AUDIT_CONTROL', 'SETFCAP',
  'MAC_OVERRIDE', 'MAC_ADMIN', 'SYSLOG', 'WAKE_ALARM', 'BLOCK_SUSPEND', 'AUDIT_READ', 'PERFMON', 'BPF',
  'CHECKPOINT_RESTORE',
] as const;

/**
 * The capabilities a container keeps by default, and why. Left out of podman's own default
 * set: FSETID, SETFCAP, SETPCAP and SYS_CHROOT, which a running service rarely needs (keeping
 * setgid bits when root edits a file, writing file capabilities, changing the bounding set,
 * chroot); `cap_add` brings any of them back.
 */
export const defaultCapabilities: Readonly<Record<string, string>> = {
  CHOWN: 'entrypoints chown their data and cache directories to the service user',
  DAC_OVERRIDE: 'root in the container reads and writes files owned by the service user, as entrypoints expect',
  FOWNER: 'entrypoints chmod files they do not own (volumes, sockets)',
  KILL: 'a master process signals workers that run as another user (nginx, postgres)',
  NET_BIND_SERVICE: 'servers bind ports below 1024 in the container (80, 443)',
  SETGID: 'servers switch to their own group after starting as root',
  SETUID: 'servers switch to their own user after starting as root',
};

/** A capability name as podman and `capsh` print it. */
export function capabilityFlagName(name: string): string {
  return `CAP_${name}`;
}

/** `cap_add`/`cap_drop` words (`net_admin`, `CAP_NET_ADMIN`, `ALL`) in canonical form, or undefined. */
export function canonicalCapability(word: string): string | undefined {
  const upper = word.trim().toUpperCase().replace(/^CAP_/, '');
  if (upper === 'ALL') return 'ALL';
  return (capabilityNames as readonly string[]).includes(upper) ? upper : undefined;
}

/**
 * The set a container keeps: the default set, less `drop` (`ALL` drops every one), plus
 * `add` (`ALL` adds every one). Sorted; `['ALL']` when every capability is kept.
 */
export function keptCapabilities(add: readonly string[], drop: readonly string[]): string[] {
  const all = (x: readonly string[]) => x.includes('ALL');
  let kept = all(add) ? [...capabilityNames] : drop.includes('ALL') ? [] : Object.keys(defaultCapabilities).filter((c) => !drop.includes(c));
  if (all(add)) kept = kept.filter((c) => !drop.includes(c));
  else kept = [...new Set([...kept, ...add])];
  return kept.length === capabilityNames.length ? ['ALL'] : kept.sort();
}

/** The `CapEff:` mask /proc/PID/status shows for a set, as 16 hex digits. */
export function capabilityMask(names: readonly string[]): string {
  const set = names.includes('ALL') ? capabilityNames : names;
  let mask = 0n;
  for (const n of set) mask |= 1n << BigInt((capabilityNames as readonly string[]).indexOf(n));
  return mask.toString(16).padStart(16, '0');
}
