// `keel lock serve` options are checked before anything starts: one line naming the option, exit 2.
import { describe, expect, test } from 'vitest';
import { boundedOption, parseListen } from '../../../src/cli/lock-serve.js';
import type { CommandContext } from '../../../src/cli/command.js';

describe('--listen', () => {
  test.each([
    ['127.0.0.1:3333', { host: '127.0.0.1', port: 3333 }],
    ['[::1]:0', { host: '::1', port: 0 }],
    ['localhost:65535', { host: 'localhost', port: 65535 }],
    ['0.0.0.0:80', { host: '0.0.0.0', port: 80 }],
  ])('accepts %s', (text, want) => expect(parseListen(text)).toEqual(want));

  test.each(['127.0.0.1:99999', '127.0.0.1:65536', '127.0.0.1', ':3333', '256.1.1.1:3333', '[::zz]:3333', '[127.0.0.1]:3333', 'a b:1', '127.0.0.1:-1', '127.0.0.1:0x10', '::1:3333'])(
    'refuses %s as a usage error naming --listen',
    (text) => {
      expect(() => parseListen(text)).toThrow(expect.objectContaining({ kind: 'usage', message: expect.stringMatching(/^--listen: expected ADDRESS:PORT/) }));
    },
  );
});

describe('--slots and --max-groups', () => {
  const ctx = (value: string) => ({ values: { slots: value } }) as unknown as CommandContext;
  test.each(['0', '10001', '2000000', '1e3', '-1', '', ' 1', '0x10', '9999999999'])('--slots %j is a usage error', (value) => {
    expect(() => boundedOption(ctx(value), 'slots', 1, 10_000)).toThrow(expect.objectContaining({ kind: 'usage', message: expect.stringContaining('--slots: expected a whole number from 1 to 10000') }));
  });
  test('in range', () => {
    expect(boundedOption(ctx('10000'), 'slots', 1, 10_000)).toBe(10_000);
    expect(boundedOption({ values: {} } as unknown as CommandContext, 'slots', 1, 10_000)).toBeUndefined();
  });
});
