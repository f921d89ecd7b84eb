// lock.conf: what the cloud-config writer (plan-settings.ts lockConf) produces reads back
// into the same LockSettings; hand-written files with quotes and bare keys work too.
import { describe, expect, test } from 'vitest';
import { lockConf } from '../../../src/cloudconfig/plan-settings.js';
import { parseLockConf } from '../../../src/lock/lock-conf.js';
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
