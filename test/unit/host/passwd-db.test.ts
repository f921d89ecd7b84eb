import { describe, expect, test } from 'vitest';
import {
  addGroup,
  addMember,
  addUser,
  findUser,
  nextFreeId,
  parseGroup,
  parseGshadow,
  parsePasswd,
  parseShadow,
  printGroup,
  printGshadow,
  printPasswd,
  printShadow,
  setShadowHash,
  type AccountsDb,
} from '../../../src/host/passwd-db.js';

const passwd = 'root:x:0:0:root:/root:/bin/bash\n# a comment\n+nis\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n';
const shadow = 'root:*:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n';
const group = 'root:x:0:\nsudo:x:27:alice,bob\n';
const gshadow = 'root:*::\nsudo:*::alice,bob\n';

function db(): AccountsDb {
  return { passwd: parsePasswd(passwd), shadow: parseShadow(shadow), group: parseGroup(group), gshadow: parseGshadow(gshadow) };
}

describe('account files', () => {
  test('print(parse(x)) is x, unknown lines kept verbatim', () => {
    expect(printPasswd(parsePasswd(passwd))).toBe(passwd);
    expect(printShadow(parseShadow(shadow))).toBe(shadow);
    expect(printGroup(parseGroup(group))).toBe(group);
    expect(printGshadow(parseGshadow(gshadow))).toBe(gshadow);
  });

  test('adding a user and a group appends lines', () => {
    let d = addGroup(db(), 'alice', 1000);
    d = addUser(d, { name: 'alice', password: 'x', uid: 1000, gid: 1000, gecos: 'Alice', home: '/home/alice', shell: '/bin/bash' }, '*', 19500);
    d = addMember(d, 'sudo', 'carol');
    d = addMember(d, 'sudo', 'carol');
    expect(printPasswd(d.passwd)).toBe(passwd + 'alice:x:1000:1000:Alice:/home/alice:/bin/bash\n');
    expect(printShadow(d.shadow)).toBe(shadow + 'alice:*:19500:0:99999:7:::\n');
    expect(printGroup(d.group)).toBe('root:x:0:\nsudo:x:27:alice,bob,carol\nalice:x:1000:\n');
    expect(printGshadow(d.gshadow)).toBe('root:*::\nsudo:*::alice,bob,carol\nalice:!::\n');
    expect(findUser(d, 'alice')?.uid).toBe(1000);
  });

  test.each([
    [undefined, false, '*'],
    ['$6$salt$hash', false, '$6$salt$hash'],
    ['$6$salt$hash', true, '!$6$salt$hash'],
    [undefined, true, '!*'],
  ])('set hash %s lock %s → %s', (hash, lock, expected) => {
    const d = setShadowHash(db(), 'daemon', hash, lock, 19500);
    expect(printShadow(d.shadow).split('\n')[1]?.split(':')[1]).toBe(expected);
  });

  test('locking twice does not stack', () => {
    const d = setShadowHash(setShadowHash(db(), 'root', undefined, true, 1), 'root', undefined, true, 1);
    expect(printShadow(d.shadow).split(':')[1]).toBe('!*');
  });
});

describe('id allocation', () => {
  test.each([
    [[0, 1, 2], false, undefined, 1000],
    [[0, 1000, 1001, 1005], false, undefined, 1006],
    [[0, 65534], false, undefined, 1000],
    [[0, 999, 998], true, undefined, 997],
    [[0], true, undefined, 999],
    [[0, 1000], false, 1000, 1001],
    [[0], false, 1234, 1234],
  ])('used %j system=%s preferred=%s → %i', (used, system, preferred, expected) => {
    expect(nextFreeId(new Set(used), system, preferred)).toBe(expected);
  });
});
