import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { Accounts } from '../../../src/host/accounts.js';
import { RootFs } from '../../../src/host/root-fs.js';
import { KeelError } from '../../../src/errors.js';
import { makeRoot } from '../apply/temp-root.js';

let root: string;
let cleanup: () => Promise<void>;
let accounts: Accounts;
beforeEach(async () => {
  ({ root, cleanup } = await makeRoot('keel-accounts-'));
  accounts = new Accounts(new RootFs(root), 19844);
});
afterEach(async () => cleanup());

const passwdLine = async (name: string) => (await readFile(join(root, 'etc/passwd'), 'utf8')).split('\n').find((l) => l.startsWith(`${name}:`));

describe('accounts under a root', () => {
  test('a normal user gets the next uid from 1000, a private group with the same id and a home from skel', async () => {
    expect(await accounts.ensureUser({ name: 'ann', groups: [] })).toBe('created');
    expect(await passwdLine('ann')).toBe('ann:x:1000:1000::/home/ann:/bin/sh');
    expect(await readFile(join(root, 'home/ann/.profile'), 'utf8')).toBe('# profile\n');
    expect(await accounts.ensureUser({ name: 'ann', groups: ['sudo'] })).toBe('exists');
    expect(await readFile(join(root, 'etc/group'), 'utf8')).not.toMatch(/sudo:x:27:ann/);
  });

  test('a system user counts down from 999', async () => {
    await accounts.ensureUser({ name: 'svc1', groups: [], system: true, noCreateHome: true });
    await accounts.ensureUser({ name: 'svc2', groups: [], system: true, noCreateHome: true });
    expect(await passwdLine('svc2')).toBe('svc2:x:998:998::/home/svc2:/bin/sh');
    await expect(stat(join(root, 'home/svc2'))).rejects.toThrow();
  });

  test('shell defaults to /bin/bash when the root has it', async () => {
    const { mkdir } = await import('node:fs/promises');
    await mkdir(join(root, 'bin'));
    await writeFile(join(root, 'bin/bash'), '', { mode: 0o755 });
    await accounts.ensureUser({ name: 'b', groups: [] });
    expect(await passwdLine('b')).toMatch(/:\/bin\/bash$/);
  });

  test('primary_group is created when missing; no_user_group uses users (gid 100)', async () => {
    await accounts.ensureUser({ name: 'p', groups: [], primaryGroup: 'team' });
    await accounts.ensureUser({ name: 'n', groups: [], noUserGroup: true });
    const group = await readFile(join(root, 'etc/group'), 'utf8');
    expect(group).toMatch(/^team:x:1000:$/m);
    expect(group).toMatch(/^users:x:100:$/m);
    expect(await passwdLine('p')).toMatch(/^p:x:1000:1000:/);
    expect(await passwdLine('n')).toMatch(/^n:x:1001:100:/);
  });

  test('groupsIfPresent joins only existing groups', async () => {
    await accounts.ensureUser({ name: 'core', groups: [], groupsIfPresent: ['sudo', 'wheel'] });
    const group = await readFile(join(root, 'etc/group'), 'utf8');
    expect(group).toMatch(/^sudo:x:27:core$/m);
    expect(group).not.toMatch(/wheel/);
  });

  test.each([
    [undefined, { uid: 0, gid: 0 }],
    ['root', { uid: 0, gid: 0 }],
    ['ann', { uid: 1000, gid: 1000 }],
    ['ann:sudo', { uid: 1000, gid: 27 }],
    [':sudo', { uid: 0, gid: 27 }],
    ['42:43', { uid: 42, gid: 43 }],
  ])('owner %s resolves to %j', async (owner, ids) => {
    await accounts.ensureUser({ name: 'ann', groups: [], noCreateHome: true });
    expect(await accounts.resolveOwner(owner)).toEqual(ids);
  });

  test.each(['ghost', 'root:ghosts'])('an unknown owner %s is a not-found error', async (owner) => {
    const error = await accounts.resolveOwner(owner).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeelError);
    expect((error as KeelError).kind).toBe('not-found');
  });

  test('keys for a missing user are refused', async () => {
    await expect(accounts.installSshKeys('nobody-here', ['k'])).rejects.toThrow(/does not exist under the root/);
  });

  test('account files keep their mode and owner when rewritten', async () => {
    const { chmod, chown } = await import('node:fs/promises');
    await chown(join(root, 'etc/shadow'), 0, 42);
    await chmod(join(root, 'etc/shadow'), 0o640);
    await accounts.ensureUser({ name: 'ann', groups: [], noCreateHome: true });
    const st = await stat(join(root, 'etc/shadow'));
    expect([st.mode & 0o777, st.uid, st.gid]).toEqual([0o640, 0, 42]);
  });
});

describe('a hostile home', () => {
  test('~/.ssh as a symlink (to /etc) is refused: no chown or write through it', async () => {
    const { symlink } = await import('node:fs/promises');
    await accounts.ensureUser({ name: 'eve', groups: [] });
    await symlink('/etc', join(root, 'home/eve/.ssh'));
    const error = await accounts.installSshKeys('eve', ['k']).catch((e: unknown) => e);
    expect((error as KeelError).kind).toBe('unsafe-path');
    expect((await stat(join(root, 'etc'))).uid).toBe(0);
    await expect(stat(join(root, 'etc/authorized_keys'))).rejects.toThrow();
  });
});

describe('a hostile authorized_keys', () => {
  test('a link to /etc/shadow is replaced, never read into the user-owned file', async () => {
    const { mkdir, symlink } = await import('node:fs/promises');
    await accounts.ensureUser({ name: 'eve', groups: [] });
    await mkdir(join(root, 'home/eve/.ssh'));
    await symlink('/etc/shadow', join(root, 'home/eve/.ssh/authorized_keys'));
    await accounts.installSshKeys('eve', ['ssh-ed25519 K eve']);
    expect(await readFile(join(root, 'home/eve/.ssh/authorized_keys'), 'utf8')).toBe('ssh-ed25519 K eve\n');
    expect(await readFile(join(root, 'etc/shadow'), 'utf8')).toMatch(/^root:/);
  });
});
