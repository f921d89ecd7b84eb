// The JSON Schema emitted from a description, and the cloud-config one as a whole.
import { describe, expect, test } from 'vitest';
import { octalMode, s, toJsonSchema } from '../../../src/schema/index.js';
import { patternOf } from '../../../src/schema/json-schema.js';
import { cloudConfigJsonSchema } from '../../../src/cli/cloud-config-validate.js';

describe('toJsonSchema', () => {
  test('every kind', () => {
    const schema = s.object(
      {
        name: s.required(s.string({ minLength: 1, pattern: /^[a-z]+$/ })),
        count: s.integer({ minimum: 1 }),
        on: s.boolean(),
        mode: s.enum(['a', 'b']),
        tags: s.list(s.string(), { minItems: 1 }),
        old_key: s.deprecated(s.any(), 'gone'),
        either: s.union([s.string(), s.number()]),
        perm: octalMode(),
        env: s.map(s.string(), { keyPattern: /^[A-Z]+$/ }),
      },
      { description: 'top' },
    );
    expect(toJsonSchema(schema, { id: 'x:y', title: 't' })).toEqual({
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      $id: 'x:y',
      title: 't',
      type: 'object',
      description: 'top',
      properties: {
        name: { type: 'string', minLength: 1, pattern: '^[a-z]+$' },
        count: { type: 'integer', minimum: 1 },
        on: { type: 'boolean' },
        mode: { enum: ['a', 'b'] },
        tags: { type: 'array', items: { type: 'string' }, minItems: 1 },
        old_key: { deprecated: true, description: 'gone' },
        'old-key': { deprecated: true, description: 'same as old_key' },
        either: { anyOf: [{ type: 'string' }, { type: 'number' }] },
        perm: { anyOf: [{ type: 'string', pattern: '^(0o|0)?[0-7]{1,4}$' }, { type: 'integer', minimum: 0 }] },
        env: { type: 'object', patternProperties: { '^[A-Z]+$': { type: 'string' } }, additionalProperties: false },
      },
      required: ['name'],
      additionalProperties: false,
    });
  });

  test('the cloud-config schema names every section and both key spellings', () => {
    const j = cloudConfigJsonSchema() as { properties: Record<string, { properties?: Record<string, unknown> }> };
    expect(Object.keys(j.properties)).toEqual(expect.arrayContaining(['hostname', 'users', 'write_files', 'write-files', 'runcmd', 'bootcmd', 'timezone', 'coreos', 'keel', 'manage_etc_hosts', 'ssh_authorized_keys']));
    expect(Object.keys(j.properties.coreos!.properties!)).toEqual(expect.arrayContaining(['units', 'update', 'locksmith', 'etcd2', 'oem', 'fleet', 'flannel', 'etcd']));
    expect(Object.keys(j.properties.keel!.properties!)).toEqual(expect.arrayContaining(['update', 'lock', 'etcd', 'units', 'containers']));
    expect(JSON.parse(JSON.stringify(j))).toEqual(j);
  });
});

describe('patternOf', () => {
  test.each([
    [/^ab$/, '^ab$'],
    [/^ab$/i, '^[aA][bB]$'],
    [/^[a-z0-9+.-]*:\/\/\S+$/i, '^[a-zA-Z0-9+.-]*:\\/\\/\\S+$'],
    [/^(sun|mon)[a-z]* \d{2}$/i, '^([sS][uU][nN]|[mM][oO][nN])[a-zA-Z]* \\d{2}$'],
    [/^[1-9]\d*[KMGT]?$/i, '^[1-9]\\d*[kKmMgGtT]?$'],
  ])('%s', (re, want) => {
    expect(patternOf(re)).toBe(want);
    // The spelt-out pattern accepts exactly what the flagged one does, on a few probes.
    for (const probe of ['ab', 'AB', 'Ab', 'http://x', 'HTTP://X', 'Sun 04', 'MONDAY 12', '512M', '2g', 'x y'])
      expect(new RegExp(patternOf(re)).test(probe), probe).toBe(re.test(probe));
  });
});
