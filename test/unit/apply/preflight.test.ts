import { describe, expect, test } from 'vitest';
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
