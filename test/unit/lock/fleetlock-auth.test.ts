// FleetLock identity (issue 10): the tokens file, who a request is, and what it may do.
import { describe, expect, test } from 'vitest';
import { authorize, identify, parseTokens, type FleetLockAuth } from '../../../src/lock/fleetlock-auth.js';

const file = '# fleet tokens\nnode-a aaaaaaaaaaaaaaaa1\n\nnode-b   bbbbbbbbbbbbbbbb2\r\nops cccccccccccccccc3\n';
const auth: FleetLockAuth = { clientCerts: true, tokens: parseTokens(file, 'tokens'), operators: new Set(['ops']) };

describe('tokens file', () => {
  test('reads names and keeps only digests of the tokens', () => {
    const entries = parseTokens(file, 'tokens');
    expect(entries.map((e) => e.name)).toEqual(['node-a', 'node-b', 'ops']);
    expect(JSON.stringify(entries)).not.toContain('aaaaaaaa');
  });

  test.each([
    ['one field', 'node-a\n', /tokens:1: expected 'node-id token', found 1 field/],
    ['three fields', 'node-a tok tok\n', /tokens:1: expected 'node-id token', found 3 fields/],
    ['a short token', 'node-a short\n', /tokens:1: expected a token of at least 16 characters/],
    ['a name given twice', 'n aaaaaaaaaaaaaaaa1\nn aaaaaaaaaaaaaaaa2\n', /tokens:2: n has a token already/],
    ['a token given twice', 'n aaaaaaaaaaaaaaaa1\nm aaaaaaaaaaaaaaaa1\n', /tokens:2: this token is given to another name too/],
    ['a bad name', `${'n'.repeat(254)} aaaaaaaaaaaaaaaa1\n`, /tokens:1: node id expected a node id of 1 to 253/],
  ])('refuses %s with its line', (_n, text, message) => {
    expect(() => parseTokens(text, 'tokens')).toThrow(message);
  });
});

describe('identity and authorization', () => {
  test.each([
    ['a verified certificate', { certificateName: 'node-a' }, { name: 'node-a', via: 'certificate' }],
    ['a bearer token', { authorization: 'Bearer bbbbbbbbbbbbbbbb2' }, { name: 'node-b', via: 'token' }],
    ['a bearer token, any case', { authorization: 'bearer cccccccccccccccc3' }, { name: 'ops', via: 'token' }],
    ['a certificate wins over a token', { certificateName: 'node-a', authorization: 'Bearer bbbbbbbbbbbbbbbb2' }, { name: 'node-a', via: 'certificate' }],
    ['a wrong token', { authorization: 'Bearer bbbbbbbbbbbbbbbb3' }, undefined],
    ['basic auth', { authorization: 'Basic bm9kZS1hOng=' }, undefined],
    ['nothing', {}, undefined],
  ])('%s', (_n, credentials, want) => expect(identify(auth, credentials)).toEqual(want));

  test('a certificate name is ignored when client certificates are not trusted', () => {
    expect(identify({ ...auth, clientCerts: false }, { certificateName: 'node-a' })).toBeUndefined();
  });

  const a = { name: 'node-a', via: 'token' } as const;
  const ops = { name: 'ops', via: 'certificate' } as const;
  test.each([
    ['no auth configured: anyone', undefined, undefined, 'pre-reboot', 'node-b', undefined],
    ['unauthenticated', auth, undefined, 'pre-reboot', 'node-a', 401],
    ['unauthenticated status', auth, undefined, 'status', '', 401],
    ['a node takes its own slot', auth, a, 'pre-reboot', 'node-a', undefined],
    ['a node releases its own slot', auth, a, 'steady-state', 'node-a', undefined],
    ['a node takes another node slot', auth, a, 'pre-reboot', 'node-b', 403],
    ['a node releases another node slot', auth, a, 'steady-state', 'node-b', 403],
    ['a node reads the status', auth, a, 'status', '', undefined],
    ['an operator releases any holder', auth, ops, 'steady-state', 'node-b', undefined],
    ['an operator takes a slot for another node', auth, ops, 'pre-reboot', 'node-b', 403],
  ] as const)('%s', (_n, config, identity, operation, id, status) => {
    const refused = authorize(config, identity, operation, id);
    if (status === undefined) expect(refused).toBeUndefined();
    else expect(refused).toMatchObject({ status, kind: status === 401 ? 'unauthenticated' : 'forbidden', value: expect.any(String) });
  });
});
