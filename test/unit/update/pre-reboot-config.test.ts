// PRE_REBOOT_CONTAINERS, PRE_REBOOT_GROUP_CLEAR, PRE_REBOOT_ETCD_QUORUM and HOSTNAME_OVERRIDE:
// read from update.conf, refused with their key when malformed, and written from cloud-config's
// keel.update.pre_reboot (containers, group_clear, etcd_quorum), which validates them at their
// line and column.
import { describe, expect, test } from 'vitest';
import { validateCloudConfig } from '../../../src/cloudconfig/validate.js';
import { updateConf } from '../../../src/cloudconfig/plan-settings.js';
import { parseUpdateConf, updateConfigOf } from '../../../src/update/update-config.js';

const doc = (lines: string[]) => `#cloud-config\n${lines.join('\n')}\n`;

describe('update.conf keys', () => {
  test.each<[Record<string, string>, unknown]>([
    [{ PRE_REBOOT_CONTAINERS: 'all' }, { units: [], containers: 'all' }],
    [{ PRE_REBOOT_CONTAINERS: 'web, db  web' }, { units: [], containers: ['web', 'db'] }],
    [{ PRE_REBOOT_GROUP_CLEAR: 'web-eu.1' }, { units: [], groupClear: 'web-eu.1' }],
    [{ PRE_REBOOT_CONTAINERS: '', PRE_REBOOT_GROUP_CLEAR: ' ' }, { units: [] }],
    [{ PRE_REBOOT_ETCD_QUORUM: 'off' }, { units: [], etcdQuorum: false }],
    [{ PRE_REBOOT_ETCD_QUORUM: 'auto' }, { units: [] }],
  ])('%j reads as %j', (values, checks) => {
    const c = updateConfigOf(values);
    expect(c.preReboot).toEqual(checks);
  });

  test.each<[Record<string, string>, RegExp]>([
    [{ PRE_REBOOT_CONTAINERS: 'web ../etc Web' }, /update\.conf: PRE_REBOOT_CONTAINERS: expected all alone or container names .*found '\.\.\/etc', 'Web'/],
    [{ PRE_REBOOT_CONTAINERS: 'all web' }, /PRE_REBOOT_CONTAINERS: expected all alone or container names .*found 'all'/],
    [{ PRE_REBOOT_GROUP_CLEAR: 'web/../x' }, /update\.conf: PRE_REBOOT_GROUP_CLEAR: expected letters, digits, '\.' or '-'/],
    [{ PRE_REBOOT_GROUP_CLEAR: '..' }, /PRE_REBOOT_GROUP_CLEAR: expected a name, found "\.\.", a path step/],
    [{ PRE_REBOOT_ETCD_QUORUM: 'yes' }, /update\.conf: PRE_REBOOT_ETCD_QUORUM: expected auto or off, found 'yes'/],
    [{ HOSTNAME_OVERRIDE: 'two words' }, /update\.conf: HOSTNAME_OVERRIDE: expected a hostname .*found "two words"/],
    [{ HOSTNAME_OVERRIDE: '-x' }, /HOSTNAME_OVERRIDE: expected a hostname/],
  ])('%j is refused naming its key', (values, message) => {
    expect(() => updateConfigOf(values)).toThrow(message);
  });

  test('HOSTNAME_OVERRIDE names the node in its record; absent, the machine hostname is used', () => {
    expect(updateConfigOf({ HOSTNAME_OVERRIDE: 'agent-7.bench' }).hostname).toBe('agent-7.bench');
    expect(updateConfigOf({}).hostname).toBeUndefined();
  });
});

describe('keel.update.pre_reboot containers and group_clear', () => {
  test.each<[string, string, unknown]>([
    ['all', 'all', 'all'],
    ['[web, db]', 'web db', ['web', 'db']],
  ])('containers: %s reaches the agent through update.conf', (written, line, read) => {
    const { config, problems } = validateCloudConfig(doc(['keel:', '  update:', '    pre_reboot:', `      containers: ${written}`, '      group_clear: web']));
    expect(problems).toEqual([]);
    const text = updateConf(config!.update)!;
    expect(text).toMatch(new RegExp(`^PRE_REBOOT_CONTAINERS=["']?${line}["']?$`, 'm'));
    expect(text).toMatch(/^PRE_REBOOT_GROUP_CLEAR=["']?web["']?$/m);
    expect(updateConfigOf(parseUpdateConf(text)).preReboot).toEqual({ units: [], containers: read, groupClear: 'web' });
  });

  test.each<[string, number, number, RegExp]>([
    ['      containers: some', 5, 19, /expected all or a list of container names/],
    ['      containers: [web, "../x"]', 5, 25, /expected a container name of lowercase letters/],
    ['      containers: []', 5, 19, /all or a list of container names|at least 1/],
    ['      group_clear: "web/eu"', 5, 20, /expected a group name of letters, digits, \. and -/],
    ['      containers: [web, all]', 5, 25, /expected container names, found all; write containers: all \(not in a list\)/],
    ['      etcd_quorum: no', 5, 20, /expected one of auto or off, found "no"/],
  ])('%s is an error at its line and column', (line, lineNo, column, message) => {
    const { problems } = validateCloudConfig(doc(['keel:', '  update:', '    pre_reboot:', line]));
    const errors = problems.filter((p) => p.severity === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ line: lineNo, column });
    expect(errors[0]!.message).toMatch(message);
  });
});

test('etcd_quorum: off reaches the agent through update.conf', () => {
  const { config, problems } = validateCloudConfig(doc(['keel:', '  update:', '    pre_reboot:', '      etcd_quorum: off']));
  expect(problems).toEqual([]);
  const text = updateConf(config!.update)!;
  expect(text).toMatch(/^PRE_REBOOT_ETCD_QUORUM=["']?off["']?$/m);
  expect(updateConfigOf(parseUpdateConf(text)).preReboot).toEqual({ units: [], etcdQuorum: false });
});
