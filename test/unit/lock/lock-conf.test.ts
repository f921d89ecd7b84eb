// lock.conf: what the cloud-config writer (plan-settings.ts lockConf) produces reads back
// into the same LockSettings; hand-written files with quotes and bare keys work too.
import { describe, expect, test } from 'vitest';
import { lockConf } from '../../../src/cloudconfig/plan-settings.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseLockConf, readLockConf } from '../../../src/lock/lock-conf.js';
import type { LockSettings } from '../../../src/lock/lock-settings.js';

describe('lock.conf', () => {
  test.each<[string, LockSettings]>([
    ['etcd with TLS and auth', { endpoints: ['https://10.0.0.1:2379', 'https://10.0.0.2:2379'], group: 'workers', cafile: '/etc/ssl/etcd/ca.pem', certfile: '/etc/ssl/etcd/c.pem', keyfile: '/etc/ssl/etcd/c.key', username: 'keel', password: 'p@ss "word" $x', maxHold: '2h', windowStart: 'Thu 23:00', windowLength: '1h30m' }],
    ['fleetlock', { endpoints: [], group: 'default', fleetlockUrl: 'http://lock.example:3333/fleetlock' }],
  ])('round-trips the cloud-config writer: %s', (_n, settings) => {
    const text = lockConf(settings);
    expect(text).toBeDefined();
    expect(parseLockConf(text!)).toEqual(settings);
  });

  test('hand-written file with bare keys and comments', () => {
    expect(parseLockConf('# mine\nENDPOINTS="http://a:2379, http://b:2379"\nGROUP=web\nCAFILE=/ca.pem\nexport USERNAME=u\n')).toEqual({ endpoints: ['http://a:2379', 'http://b:2379'], group: 'web', cafile: '/ca.pem', username: 'u' });
  });
});

describe('lock.conf durations (the grammar of src/duration.ts)', () => {
  test('a window length in minutes and a max hold in seconds are accepted', () => {
    expect(parseLockConf('WINDOW_START="Thu 04:00"\nWINDOW_LENGTH=90min\nMAX_HOLD=3600\n')).toMatchObject({ windowLength: '90min', maxHold: '3600' });
  });
  test('bad durations are refused, naming the file and each key', () => {
    expect(() => parseLockConf('MAX_HOLD=forever\nWINDOW_START=04:00\nWINDOW_LENGTH=0\n', '/etc/keel/lock.conf')).toThrow(
      '/etc/keel/lock.conf: MAX_HOLD: expected a duration such as 90s, 10m or 1h30m (or a number of seconds), found "forever"; WINDOW_LENGTH: expected a duration such as 90s, 10m or 1h30m above zero, found "0"; refusing to use the lock settings',
    );
  });
  test('readLockConf names the path it read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keel-lock-conf-'));
    try {
      writeFileSync(join(dir, 'lock.conf'), 'WINDOW_LENGTH=1h 30m\n');
      expect(() => readLockConf(join(dir, 'lock.conf'), true)).toThrow(expect.objectContaining({ kind: 'invalid-input', message: expect.stringContaining(`${join(dir, 'lock.conf')}: WINDOW_LENGTH: expected a duration`) }));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
