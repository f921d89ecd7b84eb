import { expect, test } from 'vitest';
import { flattenPublicKeys } from '../../../../src/cloudconfig/datasources/public-keys.js';

test.each([
  ['nothing', undefined, []],
  ['null', null, []],
  ['one string', 'ssh-ed25519 AAA a@b', ['ssh-ed25519 AAA a@b']],
  ['lines with blanks and comments', 'ssh-rsa A x\n\n# old\nssh-ed25519 B y\n', ['ssh-rsa A x', 'ssh-ed25519 B y']],
  ['a list', ['ssh-rsa A', 'ssh-rsa B'], ['ssh-rsa A', 'ssh-rsa B']],
  ['a map of names, sorted by name', { zed: 'ssh-rsa Z', amy: 'ssh-rsa A' }, ['ssh-rsa A', 'ssh-rsa Z']],
  ['a map to lists', { a: ['ssh-rsa 1', 'ssh-rsa 2'] }, ['ssh-rsa 1', 'ssh-rsa 2']],
  ['EC2 style openssh-key', { '0': { 'openssh-key': 'ssh-rsa K' } }, ['ssh-rsa K']],
  ['a number is not a key', 42, []],
])('%s', (_, value, expected) => {
  expect(flattenPublicKeys(value)).toEqual(expected);
});
