import { describe, expect, test } from 'vitest';
import { pathUses } from '../../../src/apply/plan-paths.js';
import { unresolvableOwners } from '../../../src/apply/preflight.js';
import type { Operation } from '../../../src/cloudconfig/operation.js';
import { parseGroup, parsePasswd, type AccountsDb } from '../../../src/host/passwd-db.js';

const db: AccountsDb = {
  passwd: parsePasswd('root:x:0:0:root:/root:/bin/sh\nwww:x:33:33::/var/www:/bin/sh\n'),
  shadow: [],
  group: parseGroup('root:x:0:\nwww:x:33:\nadm:x:4:\n'),
  gshadow: [],
};
const empty: AccountsDb = { passwd: [], shadow: [], group: [], gshadow: [] };

const write = (owner: string | undefined, path = '/etc/f'): Operation => ({ kind: 'write-file', file: { path, content: new Uint8Array(), mode: 0o644, ...(owner ? { owner } : {}) } });
const createUser = (name: string, extra: Partial<{ primaryGroup: string; groups: string[]; noUserGroup: boolean }> = {}): Operation => ({
  kind: 'create-user',
  user: { name, groups: extra.groups ?? [], ...(extra.primaryGroup ? { primaryGroup: extra.primaryGroup } : {}), ...(extra.noUserGroup ? { noUserGroup: true } : {}) },
});

describe('unresolvableOwners', () => {
  test.each([
    ['no owner', [write(undefined)], empty],
    ['root:root in an empty root', [write('root:root')], empty],
    ['numeric ids', [write('1234:5678')], empty],
    ['existing user and group', [write('www:adm')], db],
    ['a user the plan creates, and its own group', [createUser('core'), write('core:core')], empty],
    ['a primary group the plan creates', [createUser('app', { primaryGroup: 'svc' }), write('app:svc')], empty],
    ['a supplementary group the plan creates', [createUser('app', { groups: ['docker'] }), write('root:docker')], empty],
    ['no-user-group users go to users', [createUser('app', { noUserGroup: true }), write('app:users')], empty],
    ['a group created on its own', [{ kind: 'create-group', name: 'ops', system: false } as Operation, write(':ops')], empty],
  ])('accepts %s', (_name, ops, accounts) => {
    expect(unresolvableOwners(ops, accounts)).toEqual([]);
  });

  test.each([
    ['an unknown user', [write('nobody')], 'no user nobody'],
    ['an unknown group', [write('www:nogroup')], 'no group nogroup'],
    ['a user the plan does not create', [createUser('core'), write('alice:core')], 'no user alice'],
  ])('refuses %s, naming the file', (_name, ops, expected) => {
    const problems = unresolvableOwners(ops, db);
    expect(problems).toHaveLength(1);
    expect(problems[0]!.message).toContain('/etc/f');
    expect(problems[0]!.message).toContain(expected);
    expect(problems[0]!.index).toBe(ops.length - 1);
  });
});

describe('pathUses: every path the plan touches, and how', () => {
  const append = (path: string): Operation => ({ kind: 'write-file', file: { path, content: new Uint8Array(), mode: 0o644, append: true } });
  const uses = (ops: Operation[], accounts: AccountsDb | undefined = db) => pathUses(ops, accounts).map((u) => `${u.index} ${u.use} ${u.path}`);

  test('a write replaces; an append reads, unless the plan wrote the path before it', () => {
    expect(uses([append('/etc/log'), write(undefined, '/etc/f'), append('/etc/./f')])).toEqual(['0 read /etc/log', '1 replace /etc/f', '2 replace /etc/./f']);
  });

  test('an owner makes the account files read', () => {
    expect(uses([write('www')])).toEqual(['0 replace /etc/f', '0 read /etc/passwd', '0 read /etc/shadow', '0 read /etc/group', '0 read /etc/gshadow']);
  });

  test("a new user's home parent must be a directory; keys go to the home the root or the plan gives", () => {
    const keys = (user: string): Operation => ({ kind: 'install-ssh-keys', user, keys: ['k'] });
    const paths = uses([createUser('core'), keys('core'), keys('www'), keys('ghost')]).filter((u) => !/\/etc\//.test(u));
    expect(paths).toEqual([
      '0 directory /home',
      '1 directory /home',
      '1 own-directory /home/core/.ssh',
      '1 replace-plain /home/core/.ssh/authorized_keys',
      '2 directory /var',
      '2 own-directory /var/www/.ssh',
      '2 replace-plain /var/www/.ssh/authorized_keys',
    ]);
  });

  test('an existing user gets no new home', () => {
    expect(uses([createUser('www')]).filter((u) => !/\/etc\//.test(u))).toEqual([]);
  });

  test('masks, the time zone link and the instance record are replaced', () => {
    const ops: Operation[] = [
      { kind: 'mask-unit', unit: 'a.service', runtime: false, path: '/etc/systemd/system/a.service' },
      { kind: 'set-timezone', zone: 'UTC', file: { path: '/etc/timezone', content: new Uint8Array(), mode: 0o644 }, link: { path: '/etc/localtime', target: '/usr/share/zoneinfo/UTC' } },
      { kind: 'record-instance', instanceId: 'iid-1', userDataSha256: '', bootcmds: 0 },
    ];
    expect(uses(ops)).toEqual(['0 replace /etc/systemd/system/a.service', '1 replace /etc/timezone', '1 replace /etc/localtime', '2 replace /var/lib/keel/cloud-config/instances/iid-1.json']);
  });
});
