/**
 * Accounts: groups the users name, the users themselves, passwords, SSH keys and sudo
 * rules; and the default user `core`, who receives the top-level `ssh_authorized_keys`
 * and the datasource's keys. `core` is only ensured when there are keys for it, so a
 * config without keys does not grow an account nobody asked for.
 */
import type { CloudConfig, User } from './model.js';
import type { Metadata } from './metadata.js';
import type { PlanBuilder } from './plan-context.js';
import { bytes } from './plan-context.js';

/** The default user, as on CoreOS. */
export const defaultUser = 'core';

/** Groups CoreOS's `core` is in; joined only where the root already has them. */
export const defaultUserGroups = ['sudo', 'wheel', 'docker', 'systemd-journal'];

/** Like CoreOS, `core` may use sudo without a password (it has no password). */
export const defaultUserSudo = 'ALL=(ALL) NOPASSWD:ALL';

/** shadow-utils' user name rule (Debian's is looser; this is the portable subset). */
const namePattern = /^[a-z_][a-z0-9_-]*[$]?$/;

/** The sudoers.d file of a user: sudo skips names with '.' or ending in '~', so they are avoided. */
export function sudoersPath(user: string): string {
  return `/etc/sudoers.d/90-keel-${user.replace(/[^A-Za-z0-9_-]/g, '_')}`;
}

function sudoersFile(user: string, rules: string[]) {
  const text = ['# written by keel cloud-config', ...rules.map((r) => `${user} ${r}`), ''].join('\n');
  return { path: sudoersPath(user), content: bytes(text), mode: 0o440 };
}

export function planUsers(b: PlanBuilder, config: CloudConfig | undefined, metadata: Metadata): void {
  const users: User[] = config?.users ?? [];
  const seen = new Set<string>();
  const ensuredGroups = new Set<string>();
  const defaultKeys = [...(config?.sshAuthorizedKeys ?? []), ...metadata.sshPublicKeys];

  for (const [i, u] of users.entries()) {
    if (seen.has(u.name)) {
      b.refuse(`users[${i}]: user ${JSON.stringify(u.name)} is defined twice; expected each user once; refusing to apply`);
      continue;
    }
    seen.add(u.name);
    if (!namePattern.test(u.name) || u.name.length > 32) {
      b.refuse(`users[${i}].name: ${JSON.stringify(u.name)} is not a valid user name (lowercase letters, digits, '_' and '-', at most 32); refusing to apply`);
      continue;
    }
    for (const g of [...(u.primaryGroup ? [u.primaryGroup] : []), ...u.groups]) {
      if (!namePattern.test(g) || g.length > 32) {
        b.refuse(`users[${i}]: group ${JSON.stringify(g)} is not a valid group name; refusing to apply`);
        continue;
      }
      // The user's own name is its private group, made with the user.
      if (ensuredGroups.has(g) || g === u.name) continue;
      ensuredGroups.add(g);
      b.add({ kind: 'create-group', name: g, system: u.system === true });
    }
    b.add({
      kind: 'create-user',
      user: {
        name: u.name,
        groups: u.groups,
        ...(u.gecos !== undefined ? { gecos: u.gecos } : {}),
        ...(u.homedir !== undefined ? { homedir: u.homedir } : {}),
        ...(u.noCreateHome ? { noCreateHome: true } : {}),
        ...(u.primaryGroup !== undefined ? { primaryGroup: u.primaryGroup } : {}),
        ...(u.noUserGroup ? { noUserGroup: true } : {}),
        ...(u.system ? { system: true } : {}),
        ...(u.shell !== undefined ? { shell: u.shell } : {}),
        ...(u.name === defaultUser && defaultKeys.length > 0 ? { groupsIfPresent: defaultUserGroups } : {}),
      },
    });
    if (u.passwd !== undefined || u.lockPasswd) b.add({ kind: 'set-password', user: u.name, ...(u.passwd !== undefined ? { hash: u.passwd } : {}), lock: u.lockPasswd === true });
    const keys = u.name === defaultUser ? [...u.sshAuthorizedKeys, ...defaultKeys] : u.sshAuthorizedKeys;
    if (keys.length > 0) b.add({ kind: 'install-ssh-keys', user: u.name, keys: unique(keys) });
    if (u.sudo && u.sudo.length > 0) b.add({ kind: 'write-sudoers', user: u.name, file: sudoersFile(u.name, u.sudo) });
  }

  if (defaultKeys.length > 0 && !seen.has(defaultUser)) {
    b.add({ kind: 'create-user', user: { name: defaultUser, gecos: 'keel admin', groups: [], groupsIfPresent: defaultUserGroups } });
    b.add({ kind: 'install-ssh-keys', user: defaultUser, keys: unique(defaultKeys) });
    b.add({ kind: 'write-sudoers', user: defaultUser, file: sudoersFile(defaultUser, [defaultUserSudo]) });
  }
}

function unique(keys: string[]): string[] {
  return [...new Set(keys.map((k) => k.trim()).filter((k) => k !== ''))];
}
