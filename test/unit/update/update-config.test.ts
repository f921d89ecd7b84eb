// update.conf as the agent reads it: durations in the one grammar (src/duration.ts), the
// check interval in both spellings, and problems that name the file and key to fix, also
// when the key came from lock.conf (issue 11: `WINDOW_LENGTH=90min` from coreos.locksmith).
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { loadUpdateConfig, mergeLayers, parseUpdateConf, updateConfigOf } from '../../../src/update/update-config.js';
import { updateConf } from '../../../src/cloudconfig/plan-settings.js';

describe('check interval', () => {
  test.each<[Record<string, string>, number]>([
    [{}, 300_000],
    [{ CHECK_INTERVAL: '90s' }, 90_000],
    [{ CHECK_INTERVAL: '1m30s' }, 90_000],
    [{ CHECK_INTERVAL: '2h' }, 7_200_000],
    [{ CHECK_INTERVAL: '10min' }, 600_000],
    [{ CHECK_INTERVAL: '1s' }, 1000],
    [{ CHECK_INTERVAL: '5' }, 300_000], // a bare number was and is minutes
    [{ CHECK_INTERVAL_MINUTES: '15' }, 900_000],
    [{ CHECK_INTERVAL_MINUTES: '1.5' }, 90_000], // what cloud-config wrote for 90s before issue 11
    [{ CHECK_INTERVAL_MINUTES: '5m' }, 300_000],
    [{ CHECK_INTERVAL: '90s', CHECK_INTERVAL_MINUTES: '15' }, 90_000], // the newer spelling wins in one file
  ])('%j → %i ms', (values, ms) => expect(updateConfigOf(values).checkIntervalMs).toBe(ms));

  test.each<[Record<string, string>, string]>([
    [{ CHECK_INTERVAL: 'soon' }, "update.conf: CHECK_INTERVAL: expected a duration such as 90s, 10m or 1h30m or a number of minutes, above zero, found 'soon'"],
    [{ CHECK_INTERVAL: '0' }, "update.conf: CHECK_INTERVAL: expected a duration such as 90s, 10m or 1h30m or a number of minutes, above zero, found '0'"],
    [{ CHECK_INTERVAL_MINUTES: '1,5' }, "update.conf: CHECK_INTERVAL_MINUTES: expected a duration such as 90s, 10m or 1h30m or a number of minutes, above zero, found '1,5'"],
  ])('%j is refused, naming the key', (values, message) => expect(() => updateConfigOf(values)).toThrow(`${message}; the agent keeps its previous settings`));

  test('a later layer that sets either spelling replaces both below it', () => {
    const { values, sources } = mergeLayers([
      { file: '/usr/lib/keel/update.conf', values: { CHECK_INTERVAL_MINUTES: '60', GROUP: 'a' } },
      { file: '/etc/keel/update.conf', values: { CHECK_INTERVAL: '90s' } },
    ]);
    expect(values).toEqual({ CHECK_INTERVAL: '90s', GROUP: 'a' });
    expect(sources).toEqual({ CHECK_INTERVAL: '/etc/keel/update.conf', GROUP: '/usr/lib/keel/update.conf' });
    expect(updateConfigOf(values, sources).checkIntervalMs).toBe(90_000);
  });
});

describe('locksmith window', () => {
  test.each([['90min', 90], ['1h30m', 90], ['1h30min', 90], ['2h', 120], ['45m', 45]])('WINDOW_LENGTH=%s is %i minutes', (length, minutes) => {
    expect(updateConfigOf({ WINDOW_START: 'Thu 04:00', WINDOW_LENGTH: length }).windows).toEqual([{ days: [4], startMinutes: 240, lengthMinutes: minutes, timeZone: 'UTC' }]);
  });

  test('a bad length names the file it came from and the key', () => {
    const sources = { WINDOW_START: '/etc/keel/lock.conf', WINDOW_LENGTH: '/etc/keel/lock.conf' };
    expect(() => updateConfigOf({ WINDOW_START: 'Thu 04:00', WINDOW_LENGTH: '90x' }, sources)).toThrow(
      "/etc/keel/lock.conf: WINDOW_LENGTH: expected a duration such as 90s, 10m or 1h30m, found '90x'; the agent keeps its previous settings",
    );
  });

  test('a length over the limit names both keys and their files', () => {
    const sources = { WINDOW_START: '/etc/keel/update.conf', WINDOW_LENGTH: '/etc/keel/lock.conf' };
    expect(() => updateConfigOf({ WINDOW_START: '04:00', WINDOW_LENGTH: '25h' }, sources)).toThrow(
      /^\/etc\/keel\/update.conf and \/etc\/keel\/lock.conf: WINDOW_START=04:00 WINDOW_LENGTH=25h: reboot window: length 25h must be above zero and under 24h without one/,
    );
  });

  test('one key without the other names the file of the one given', () => {
    expect(() => updateConfigOf({ WINDOW_LENGTH: '1h' }, { WINDOW_LENGTH: '/etc/keel/lock.conf' })).toThrow(
      /^\/etc\/keel\/lock.conf: WINDOW_START and WINDOW_LENGTH: expected both or neither, found only WINDOW_LENGTH/,
    );
  });

  test('a weekly window as JSON with a duration length', () => {
    expect(updateConfigOf({ WINDOWS: '[{"days":["Sat"],"start":"22:00","length":"90min"}]' }).windows).toEqual([{ days: [6], startMinutes: 1320, lengthMinutes: 90, timeZone: 'UTC' }]);
    expect(() => updateConfigOf({ WINDOWS: '[{"days":["Sat"],"start":"22:00","length":"long"}]' })).toThrow(/^update.conf: WINDOWS\[0\].length: expected a duration such as 90s, 10m or 1h30m, found 'long'/);
  });

  test('a numbered window names its number', () => {
    expect(() => updateConfigOf({ WINDOWS: '1', WINDOW_1_DAYS: 'Mon', WINDOW_1_START: '25:00', WINDOW_1_LENGTH_MINUTES: '60' })).toThrow(/^update.conf: WINDOW_1: reboot window: expected HH:MM, found '25:00'/);
  });
});

describe('what cloud-config writes, the agent reads', () => {
  test.each<[number, string, number]>([
    [1.5, 'CHECK_INTERVAL=1m30s', 90_000],
    [30, 'CHECK_INTERVAL=30m', 1_800_000],
    [1440, 'CHECK_INTERVAL=1d', 86_400_000],
  ])('check_interval of %s minutes', (minutes, line, ms) => {
    const text = updateConf({ windows: [], checkIntervalMinutes: minutes, windowStart: 'Thu 04:00', windowLength: '90min' })!;
    expect(text.split('\n')).toContain(line);
    const config = updateConfigOf(parseUpdateConf(text));
    expect(config.checkIntervalMs).toBe(ms);
    expect(config.windows[0]?.lengthMinutes).toBe(90);
  });
});

describe('loadUpdateConfig', () => {
  let root: string | undefined;
  afterEach(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });
  async function tree(files: Record<string, string>): Promise<string> {
    root = await mkdtemp(join(tmpdir(), 'keel-update-config-'));
    for (const [path, text] of Object.entries(files)) {
      await mkdir(join(root, path, '..'), { recursive: true });
      await writeFile(join(root, path), text);
    }
    return root;
  }

  test("lock.conf's window with `min` is read (issue 11)", async () => {
    const r = await tree({ 'etc/keel/lock.conf': 'WINDOW_START="Thu 04:00"\nWINDOW_LENGTH=90min\n', 'etc/keel/update.conf': 'CHECK_INTERVAL=90s\n' });
    const config = await loadUpdateConfig(r);
    expect(config.windows).toEqual([{ days: [4], startMinutes: 240, lengthMinutes: 90, timeZone: 'UTC' }]);
    expect(config.checkIntervalMs).toBe(90_000);
  });

  test('a bad key names the file under the root it came from', async () => {
    const r = await tree({ 'etc/keel/lock.conf': 'WINDOW_START="Thu 04:00"\nWINDOW_LENGTH=ninety\n', 'run/keel/update.conf': 'CHECK_INTERVAL=never\n' });
    await expect(loadUpdateConfig(r)).rejects.toThrow(
      `${join(r, 'etc/keel/lock.conf')}: WINDOW_LENGTH: expected a duration such as 90s, 10m or 1h30m, found 'ninety'; ${join(r, 'run/keel/update.conf')}: CHECK_INTERVAL: expected`,
    );
  });

  test('an old CHECK_INTERVAL_MINUTES under /usr/lib gives way to CHECK_INTERVAL in /etc', async () => {
    const r = await tree({ 'usr/lib/keel/update.conf': 'CHECK_INTERVAL_MINUTES=60\n', 'etc/keel/update.conf': 'CHECK_INTERVAL=90s\n' });
    expect((await loadUpdateConfig(r)).checkIntervalMs).toBe(90_000);
  });
});

describe('rollout policy and pre-reboot checks', () => {
  test('defaults: one failure halts, 10 minutes to be healthy, no checks', () => {
    const c = updateConfigOf({});
    expect(c.rollout).toEqual({ maxFailures: { kind: 'count', count: 1 }, healthDeadlineMs: 600_000 });
    expect(c.preReboot).toEqual({ units: [] });
  });

  test('a count, a percentage and a duration are read', () => {
    expect(updateConfigOf({ ROLLOUT_MAX_FAILURES: '3', ROLLOUT_HEALTH_DEADLINE: '90s' }).rollout).toEqual({ maxFailures: { kind: 'count', count: 3 }, healthDeadlineMs: 90_000 });
    expect(updateConfigOf({ ROLLOUT_MAX_FAILURES: '5%' }).rollout.maxFailures).toEqual({ kind: 'percent', percent: 5 });
  });

  test.each([
    [{ ROLLOUT_MAX_FAILURES: '0' }, /\/etc\/keel\/update.conf: ROLLOUT_MAX_FAILURES: expected a number of failed nodes/],
    [{ ROLLOUT_MAX_FAILURES: '150%' }, /ROLLOUT_MAX_FAILURES: expected .*found "150%"/],
    [{ ROLLOUT_HEALTH_DEADLINE: 'soon' }, /\/etc\/keel\/update.conf: ROLLOUT_HEALTH_DEADLINE: expected a duration .*found 'soon'/],
    [{ ROLLOUT_HEALTH_DEADLINE: '0' }, /ROLLOUT_HEALTH_DEADLINE: expected a duration .*above zero/],
    [{ PRE_REBOOT_UNITS: 'web.service ../evil' }, /PRE_REBOOT_UNITS: expected unit names .*found '..\/evil'/],
  ])('%o is refused naming its file and key', (values, message) => {
    const sources = Object.fromEntries(Object.keys(values).map((k) => [k, '/etc/keel/update.conf']));
    expect(() => updateConfigOf(values as Record<string, string>, sources)).toThrow(message);
  });

  test('units are split on spaces and commas; the command is kept as written', () => {
    const c = updateConfigOf({ PRE_REBOOT_UNITS: 'web.service, db.service  queue.service', PRE_REBOOT_COMMAND: 'test -e /run/ok && echo fine' });
    expect(c.preReboot).toEqual({ units: ['web.service', 'db.service', 'queue.service'], command: 'test -e /run/ok && echo fine' });
  });
});
