/**
 * The confinement keys of a container spec and their locked-down defaults: no new privileges,
 * a small capability set, a user namespace, podman's seccomp profile, AppArmor where the
 * kernel has it, and no `privileged`. spec-schema.ts embeds these fields; docs/security.md
 * explains each switch.
 */
import { absolutePath, s, type RefineContext } from '../schema/index.js';
import { canonicalCapability, keptCapabilities } from './capabilities.js';
import type { ContainerSecurity } from './spec.js';

/** What a spec that says nothing about confinement gets. */
export const defaultSecurity: ContainerSecurity = {
  noNewPrivileges: true,
  capabilities: keptCapabilities([], []),
  userns: 'auto',
  seccomp: 'default',
  apparmor: 'default',
  privileged: false,
};

const capabilityWord = s.custom({
  expected: 'a capability name such as NET_ADMIN, CAP_SYS_TIME or ALL',
  jsonSchema: { type: 'string', pattern: '^([Cc][Aa][Pp]_)?[A-Za-z_]+$' },
  read({ value }, r) {
    const c = typeof value === 'string' ? canonicalCapability(value) : undefined;
    return c ?? r.error(`expected a capability name such as NET_ADMIN, CAP_SYS_TIME or ALL, found ${JSON.stringify(value)}`);
  },
});

const capabilityList = s.list(capabilityWord, { acceptSingle: true, expected: 'a list of capability names' });

/** `default`, `unconfined` or the absolute path of a seccomp profile (JSON). */
const seccompProfile = s.string({
  expected: 'default, unconfined or the absolute path of a seccomp profile',
  check: (v) => (v === 'default' || v === 'unconfined' ? undefined : absolutePath.check?.(v) ?? (/[\x00-\x1f\x7f]/.test(v) ? `expected a path without control characters, found ${JSON.stringify(v)}` : undefined)),
});

/** The fields, as spec-schema.ts spreads them into the spec object. */
export const securityFields = {
  no_new_privileges: s.boolean({ description: 'setuid binaries and file capabilities give nothing (default true)' }),
  cap_add: capabilityList,
  cap_drop: capabilityList,
  userns: s.enum(['auto', 'host'], { description: 'auto: a user namespace from the containers subordinate range (default); host: none' }),
  seccomp: seccompProfile,
  apparmor: s.enum(['default', 'unconfined']),
  privileged: s.boolean({ description: 'every capability and device, no confinement: root on the host' }),
};

/** The keys `privileged: true` makes meaningless. */
const overriddenByPrivileged = ['cap_add', 'cap_drop', 'userns', 'seccomp', 'apparmor'] as const;

/** Reads the security fields of a refined spec object, reporting conflicts and warnings at their keys. */
export function securityOf(v: Record<string, unknown>, ctx: RefineContext): ContainerSecurity {
  const add = (v.cap_add as string[] | undefined) ?? [];
  const drop = (v.cap_drop as string[] | undefined) ?? [];
  const both = add.filter((c) => c !== 'ALL' && drop.includes(c));
  if (both.length) ctx.error('cap_add', `${both.join(', ')} is both added and dropped; expected each capability in one list`);
  const privileged = v.privileged === true;
  if (privileged) {
    ctx.warn('privileged', 'this container gets every capability and host device, without seccomp, AppArmor or a user namespace: root in it is root on the host; keep privileged: true only for a container that must manage the host');
    for (const key of overriddenByPrivileged) if (ctx.given(key)) ctx.warn(key, `${key} has no effect with privileged: true; ignoring it`);
  }
  return {
    noNewPrivileges: v.no_new_privileges !== false,
    capabilities: keptCapabilities(add, drop),
    userns: (v.userns as 'auto' | 'host' | undefined) ?? defaultSecurity.userns,
    seccomp: (v.seccomp as string | undefined) ?? defaultSecurity.seccomp,
    apparmor: (v.apparmor as 'default' | 'unconfined' | undefined) ?? defaultSecurity.apparmor,
    privileged,
  };
}
