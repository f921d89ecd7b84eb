import { describe, expect, test } from 'vitest';
import { compareVersions } from '../../../src/update/version-order.js';
import { rolloutAllows, rolloutPercentAt, rolloutPosition } from '../../../src/update/rollout.js';
import { chooseRelease } from '../../../src/update/release-choice.js';
import type { Release } from '../../../src/update/release.js';
import { updateConfigOf, parseUpdateConf } from '../../../src/update/update-config.js';
import { armedFileName, entryFileName, entryHealth, optionsForSlot, parseEntryName } from '../../../src/update/boot-entry.js';
import { checkDelayMs, decideReboot, type RebootFacts } from '../../../src/update/reboot-policy.js';
import { parseRolloutSpec } from '../../../src/update/rollout-spec.js';

describe('version order', () => {
  test.each([
    ['1.0.0', '2.0.0', -1],
    ['1.10.0', '1.9.0', 1],
    ['1.0.0-rc.1', '1.0.0', -1],
    ['1.0.0-rc.2', '1.0.0-rc.10', -1],
    ['2024.05.1', '2024.5.1', 0],
    ['1.0', '1.0.0', -1],
    ['1.0.0+build7', '1.0.0', 0],
  ])('%s vs %s = %d', (a, b, sign) => expect(Math.sign(compareVersions(a, b))).toBe(sign));
});

describe('rollouts', () => {
  const steps = [
    { at: '2026-01-01T00:00:00Z', percent: 10 },
    { at: '2026-01-03T00:00:00Z', percent: 100 },
  ];
  test.each([
    ['2025-12-31T23:59:59Z', 0],
    ['2026-01-01T00:00:00Z', 10],
    ['2026-01-02T00:00:00Z', 55],
    ['2026-01-03T00:00:00Z', 100],
    ['2027-01-01T00:00:00Z', 100],
  ])('percentage at %s is %d', (iso, percent) => expect(rolloutPercentAt(steps, Date.parse(iso))).toBeCloseTo(percent));

  test('no schedule means everyone', () => expect(rolloutPercentAt(undefined, 0)).toBe(100));

  test('a fleet takes a release in waves: about the scheduled share of 2000 nodes at each time', () => {
    const nodes = Array.from({ length: 2000 }, (_, i) => `machine-${i}`);
    for (const [iso, percent] of [['2026-01-01T12:00:00Z', 32.5], ['2026-01-02T00:00:00Z', 55]] as const) {
      const share = nodes.filter((n) => rolloutAllows(steps, Date.parse(iso), n, '2.0.0')).length / nodes.length;
      expect(Math.abs(share * 100 - percent)).toBeLessThan(4);
    }
  });

  test('a node that is allowed stays allowed as the rollout grows; position is stable per version', () => {
    const early = Date.parse('2026-01-01T06:00:00Z');
    const later = Date.parse('2026-01-02T06:00:00Z');
    for (let i = 0; i < 200; i++) if (rolloutAllows(steps, early, `m${i}`, '2.0.0')) expect(rolloutAllows(steps, later, `m${i}`, '2.0.0')).toBe(true);
    expect(rolloutPosition('m1', '2.0.0')).toBe(rolloutPosition('m1', '2.0.0'));
    expect(rolloutPosition('m1', '2.0.0')).not.toBe(rolloutPosition('m1', '3.0.0'));
  });

  test('wariness replaces the hash: 0 is first, 1 is last', () => {
    const mid = Date.parse('2026-01-02T00:00:00Z');
    expect(rolloutAllows(steps, mid, 'any', '2.0.0', 0)).toBe(true);
    expect(rolloutAllows(steps, mid, 'any', '2.0.0', 1)).toBe(false);
  });

  test('the --rollout spec parses and refuses bad parts', () => {
    expect(parseRolloutSpec('2026-01-01T00:00Z=10,2026-01-02T00:00Z=100')).toEqual([{ at: '2026-01-01T00:00:00.000Z', percent: 10 }, { at: '2026-01-02T00:00:00.000Z', percent: 100 }]);
    expect(() => parseRolloutSpec('tomorrow=10')).toThrow(/expected TIME=PERCENT/);
    expect(() => parseRolloutSpec('2026-01-01T00:00Z=120')).toThrow(/expected TIME=PERCENT/);
  });
});

describe('release choice', () => {
  const rel = (version: string, extra: Partial<Release> = {}): Release => ({ version, channel: 'stable', slot: { path: `stable/${version}/slot.img`, length: 1, sha256: 'x' }, ...extra });
  const base = { channel: 'stable', failedVersions: [] as string[], nowMs: Date.parse('2026-01-02T00:00:00Z') };
  test.each([
    ['newest above running', { releases: [rel('1.0.0'), rel('3.0.0'), rel('2.0.0')], runningVersion: '1.0.0' }, 'install 3.0.0'],
    ['nothing newer', { releases: [rel('1.0.0')], runningVersion: '1.0.0' }, 'none'],
    ['skips a failed version', { releases: [rel('2.0.0'), rel('3.0.0')], runningVersion: '1.0.0', failedVersions: ['3.0.0'] }, 'install 2.0.0'],
    ['other channel ignored', { releases: [rel('2.0.0', { channel: 'beta' })], runningVersion: '1.0.0' }, 'none'],
    ['group-only release skipped', { releases: [rel('2.0.0', { groups: ['canary'] })], runningVersion: '1.0.0', group: 'prod' }, 'none'],
    ['group-only release taken by its group', { releases: [rel('2.0.0', { groups: ['canary'] })], runningVersion: '1.0.0', group: 'canary' }, 'install 2.0.0'],
    ['not rolled out yet', { releases: [rel('2.0.0', { rollout: [{ at: '2026-06-01T00:00:00Z', percent: 100 }] })], runningVersion: '1.0.0', machineId: 'm' }, 'none'],
    ['rollout ignored for manual installs (no machine id)', { releases: [rel('2.0.0', { rollout: [{ at: '2026-06-01T00:00:00Z', percent: 100 }] })], runningVersion: '1.0.0' }, 'install 2.0.0'],
  ])('%s', (_name, input, expected) => {
    const choice = chooseRelease({ ...base, ...input });
    expect(choice.kind === 'install' ? `install ${choice.release.version}` : 'none').toBe(expected);
  });
  test('a none reason names what was skipped', () => {
    const choice = chooseRelease({ ...base, releases: [rel('2.0.0'), rel('3.0.0')], runningVersion: '2.0.0', failedVersions: ['3.0.0'] });
    expect(choice).toEqual({ kind: 'none', reason: '2.0.0 is the newest acceptable release (skipped 3.0.0: failed its health check here before)' });
  });
  test.each([
    [{ wanted: '1.0.0', runningVersion: '2.0.0' }, /lower than the running 2\.0\.0: a downgrade/],
    [{ wanted: '2.0.0', highestSeen: '3.0.0' }, /offers at most/],
    [{ highestSeen: '9.0.0' }, /9\.0\.0 was seen before: the metadata is replayed or rolled back/],
    [{ wanted: '7.0.0' }, /not in the verified metadata/],
  ])('refuses %j', (extra, message) => expect(() => chooseRelease({ ...base, releases: [rel('1.0.0'), rel('2.0.0')], ...extra })).toThrow(message));
});

describe('update.conf', () => {
  test('defaults', () => {
    expect(updateConfigOf({})).toMatchObject({ strategy: 'best-effort', channel: 'stable', group: 'default', checkIntervalMs: 300_000, windows: [], postponeWhileLoggedIn: true, trustKey: '/usr/lib/keel/update-trust.pub', bootTries: 3 });
  });
  test('BOOT_TRIES: 1 to 10', () => {
    expect(updateConfigOf({ BOOT_TRIES: '1' })).toMatchObject({ bootTries: 1, maxUnhealthyReboots: 1 });
    expect(updateConfigOf({ BOOT_TRIES: '10' })).toMatchObject({ bootTries: 10, maxUnhealthyReboots: 10 });
    expect(updateConfigOf({ BOOT_TRIES: '5', MAX_UNHEALTHY_REBOOTS: '2' })).toMatchObject({ bootTries: 5, maxUnhealthyReboots: 2 });
    expect(() => updateConfigOf({ BOOT_TRIES: '0' })).toThrow(/BOOT_TRIES/);
    expect(() => updateConfigOf({ BOOT_TRIES: '11' })).toThrow(/BOOT_TRIES/);
  });
  test("cloud-config's form, numbered weekly windows included", () => {
    const text = ['# generated', 'REBOOT_STRATEGY=etcd-lock', 'GROUP=canary', 'SERVER="http://10.0.2.2:8080/repo"', 'CHECK_INTERVAL_MINUTES=15', 'WINDOWS=2', 'WINDOW_1_DAYS=Mon,Tue', 'WINDOW_1_START=04:00', 'WINDOW_1_LENGTH_MINUTES=60', 'WINDOW_2_DAYS=Sat', 'WINDOW_2_START=22:30', 'WINDOW_2_LENGTH_MINUTES=90', 'WINDOW_2_TIME_ZONE=Europe/Berlin', 'ROLLOUT_WARINESS=0.5', 'POSTPONE_WHILE_LOGGED_IN=false'].join('\n');
    const config = updateConfigOf(parseUpdateConf(text));
    expect(config).toMatchObject({ strategy: 'etcd-lock', group: 'canary', channel: 'canary', server: 'http://10.0.2.2:8080/repo', checkIntervalMs: 900_000, rolloutWariness: 0.5, postponeWhileLoggedIn: false });
    expect(config.windows).toEqual([
      { days: [1, 2], startMinutes: 240, lengthMinutes: 60, timeZone: 'UTC' },
      { days: [6], startMinutes: 1350, lengthMinutes: 90, timeZone: 'Europe/Berlin' },
    ]);
  });
  test('every problem is reported at once', () => {
    expect(() => updateConfigOf({ REBOOT_STRATEGY: 'sometimes', WINDOW_START: 'Thu 04:00', ROLLOUT_WARINESS: '2' })).toThrow(
      /REBOOT_STRATEGY: expected one of etcd-lock, reboot, best-effort, off, found 'sometimes'.*WINDOW_START and WINDOW_LENGTH: expected both or neither.*ROLLOUT_WARINESS/,
    );
  });
});

describe('boot entries', () => {
  test.each([
    ['keel-2.0.0+3.conf', { id: 'keel-2.0.0', version: '2.0.0', triesLeft: 3 }, 'trying'],
    ['keel-2.0.0+2-1.conf', { id: 'keel-2.0.0', version: '2.0.0', triesLeft: 2, triesDone: 1 }, 'trying'],
    ['keel-2.0.0+0-3.conf', { id: 'keel-2.0.0', version: '2.0.0', triesLeft: 0, triesDone: 3 }, 'bad'],
    ['keel-1.0.0.conf', { id: 'keel-1.0.0', version: '1.0.0' }, 'good'],
    // Armed again after a good boot (counted-boots.ts): systemd-boot itself never writes -0.
    ['keel-1.0.0+3-0.conf', { id: 'keel-1.0.0', version: '1.0.0', triesLeft: 3, triesDone: 0 }, 'good'],
    ['keel-1.0.0+0-0.conf', { id: 'keel-1.0.0', version: '1.0.0', triesLeft: 0, triesDone: 0 }, 'bad'],
  ])('%s', (file, parsed, health) => {
    const name = parseEntryName(file)!;
    expect(name).toEqual(parsed);
    expect(entryHealth(name)).toBe(health);
  });
  test('names and options', () => {
    expect(entryFileName('2.0.0', 3)).toBe('keel-2.0.0+3.conf');
    expect(armedFileName('keel-2.0.0', 3)).toBe('keel-2.0.0+3-0.conf');
    expect(optionsForSlot('console=ttyS0,115200 ro keel.slot=a', 'b')).toBe('console=ttyS0,115200 ro keel.slot=b');
    expect(optionsForSlot('ro', 'a')).toBe('ro keel.slot=a');
  });
});

describe('reboot policy', () => {
  const facts: RebootFacts = { strategy: 'etcd-lock', windowOpen: true, usersLoggedIn: 0, postponeWhileLoggedIn: true, postponements: 0, maxPostponements: 10, force: false };
  test.each([
    [{}, 'reboot:required'],
    [{ strategy: 'best-effort' as const }, 'reboot:try'],
    [{ strategy: 'reboot' as const }, 'reboot:none'],
    [{ strategy: 'off' as const }, 'never'],
    [{ strategy: 'off' as const, force: true }, 'never'],
    [{ windowOpen: false }, 'wait'],
    [{ windowOpen: false, force: true }, 'reboot:required'],
    [{ usersLoggedIn: 2 }, 'wait'],
    [{ usersLoggedIn: 2, postponements: 10 }, 'reboot:required'],
    [{ usersLoggedIn: 2, postponeWhileLoggedIn: false }, 'reboot:required'],
  ])('%j → %s', (change, expected) => {
    const d = decideReboot({ ...facts, ...change });
    expect(d.kind === 'reboot' ? `reboot:${d.lock}` : d.kind).toBe(expected);
  });
  test('check jitter stays within ±10%', () => {
    expect(checkDelayMs(1000, 0)).toBe(900);
    expect(checkDelayMs(1000, 1)).toBe(1100);
  });
});
