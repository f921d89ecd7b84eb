// keel.update.rollout and keel.update.pre_reboot: validated at their line and column, written
// to update.conf, and read back by the agent as the same policy and checks.
import { describe, expect, test } from 'vitest';
import { validateCloudConfig } from '../../../src/cloudconfig/validate.js';
import { updateConf } from '../../../src/cloudconfig/plan-settings.js';
import { parseUpdateConf, updateConfigOf } from '../../../src/update/update-config.js';

const doc = (lines: string[]) => `#cloud-config\n${lines.join('\n')}\n`;

describe('keel.update.rollout and pre_reboot', () => {
  test.each<[string, { kind: string; count?: number; percent?: number }]>([
    ['3', { kind: 'count', count: 3 }],
    ['"5%"', { kind: 'percent', percent: 5 }],
    ['0.5%', { kind: 'percent', percent: 0.5 }],
  ])('max_failures %s and the rest reach the agent through update.conf', (written, parsed) => {
    const { config, problems } = validateCloudConfig(
      doc(['keel:', '  update:', '    rollout:', `      max_failures: ${written}`, '      health_deadline: 15m', '    pre_reboot:', '      command: /usr/local/bin/drained', '      units: [web.service, db.service]']),
    );
    expect(problems).toEqual([]);
    const text = updateConf(config!.update)!;
    expect(text).toMatch(/^PRE_REBOOT_UNITS=["']?web\.service db\.service["']?$/m);
    const agent = updateConfigOf(parseUpdateConf(text));
    expect(agent.rollout).toEqual({ maxFailures: parsed, healthDeadlineMs: 900_000 });
    expect(agent.preReboot).toEqual({ command: '/usr/local/bin/drained', units: ['web.service', 'db.service'] });
  });

  test('boot_tries reaches the agent through update.conf as BOOT_TRIES; absent, the agent gives 3', () => {
    const { config, problems } = validateCloudConfig(doc(['keel:', '  update:', '    boot_tries: 1']));
    expect(problems).toEqual([]);
    const text = updateConf(config!.update)!;
    expect(text).toMatch(/^BOOT_TRIES=1$/m);
    expect(updateConfigOf(parseUpdateConf(text)).bootTries).toBe(1);
    expect(updateConfigOf(parseUpdateConf(updateConf(validateCloudConfig(doc(['keel:', '  update:', '    group: beta'])).config!.update)!)).bootTries).toBe(3);
  });

  test('nothing given writes no new keys', () => {
    const { config } = validateCloudConfig(doc(['keel:', '  update:', '    group: beta']));
    expect(updateConf(config!.update)).not.toMatch(/ROLLOUT_MAX|ROLLOUT_HEALTH|PRE_REBOOT|BOOT_TRIES/);
  });

  test.each<[string[], number, number, RegExp]>([
    [['      max_failures: 0'], 5, 21, /max_failures.*expected a number of failed nodes \(1 or more\) or a percentage .*found "0"/],
    [['      max_failures: "150%"'], 5, 21, /expected a number of failed nodes/],
    [['      max_failures: [1]'], 5, 21, /expected a number of failed nodes/],
    [['      health_deadline: soon'], 5, 24, /health_deadline.*expected a duration/],
    [['      health_deadline: 0'], 5, 24, /at least 1s/],
  ])('%j is an error at its line and column', (lines, line, column, message) => {
    const { problems } = validateCloudConfig(doc(['keel:', '  update:', '    rollout:', ...lines]));
    const errors = problems.filter((p) => p.severity === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ line, column });
    expect(`${errors[0]!.path}: ${errors[0]!.message}`).toMatch(message);
  });

  test('a misspelt key is a warning at its line and column, naming the key meant', () => {
    const { problems } = validateCloudConfig(doc(['keel:', '  update:', '    rollout:', '      max_faliures: 2']));
    expect(problems).toMatchObject([{ severity: 'warning', line: 5, column: 7, message: expect.stringMatching(/did you mean "max_failures"/) }]);
  });

  test('a unit name that is not one is an error at its line and column', () => {
    const { problems } = validateCloudConfig(doc(['keel:', '  update:', '    pre_reboot:', '      units:', '        - web.service', '        - "../etc/passwd"']));
    expect(problems.filter((p) => p.severity === 'error')).toMatchObject([{ line: 7, column: 11, message: expect.stringMatching(/expected a unit name such as web\.service, found "\.\.\/etc\/passwd"/) }]);
  });
});
