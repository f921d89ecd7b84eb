// The local etcd member as every client's default (src/lock/local-member.ts): what the drop-in
// cloud-config writes reads back as the member's connection, and explicit settings win.
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { environmentOfDropIn, etcdMemberDropInPath, localMemberOf, readHostLockSettings, readLocalMember, withLocalMember } from '../../../src/lock/local-member.js';
import { etcdDropIn } from '../../../src/cloudconfig/plan-etcd.js';
import { withLocalMemberDiscovery, defaultSettings } from '../../../src/containers/supervisor-settings.js';

const tlsMember = {
  ETCD_NAME: 'keel-1',
  ETCD_ADVERTISE_CLIENT_URLS: 'https://10.77.0.11:2379',
  ETCD_LISTEN_CLIENT_URLS: 'https://10.77.0.11:2379,https://127.0.0.1:2379',
  ETCD_TRUSTED_CA_FILE: '/etc/etcd/tls/ca.pem',
  ETCD_CERT_FILE: '/etc/etcd/tls/member.pem',
  ETCD_KEY_FILE: '/etc/etcd/tls/member-key.pem',
  ETCD_CLIENT_CERT_AUTH: 'true',
};

describe('environmentOfDropIn reads what etcdDropIn writes', () => {
  test.each([
    ['plain values', tlsMember],
    ['quotes, backslashes, % and spaces', { ETCD_INITIAL_CLUSTER_TOKEN: 'a "b" \\c 50% d', ETCD_NAME: 'x=y' }],
  ])('%s', (_name, env) => {
    expect(environmentOfDropIn(etcdDropIn(env))).toEqual(env);
  });

  test('a later assignment wins, as in systemd; [Unit] lines and other keys are not environment', () => {
    expect(environmentOfDropIn('[Unit]\nEnvironment=NOT=this\n[Service]\nEnvironment=ETCD_NAME=a\nRestart=on-failure\nEnvironment="ETCD_NAME=b"\n')).toEqual({ ETCD_NAME: 'b' });
  });
});

describe('localMemberOf', () => {
  test.each([
    ['no etcd settings: no member', {}, undefined],
    ['a v2 proxy serves no v3 API: no member', { ETCD_PROXY: 'on', ETCD_ADVERTISE_CLIENT_URLS: 'http://10.0.0.1:2379' }, undefined],
    ["no advertise URL: etcd's default", { ETCD_NAME: 'a' }, { endpoints: ['http://localhost:2379'] }],
    ['TLS: the CA and the client pair from the member', tlsMember, { endpoints: ['https://10.77.0.11:2379'], cafile: '/etc/etcd/tls/ca.pem', certfile: '/etc/etcd/tls/member.pem', keyfile: '/etc/etcd/tls/member-key.pem', address: '10.77.0.11' }],
    ['plain http: TLS files are not used', { ...tlsMember, ETCD_ADVERTISE_CLIENT_URLS: 'http://10.77.0.11:2379' }, { endpoints: ['http://10.77.0.11:2379'], address: '10.77.0.11' }],
    ['half a pair is not presented', { ETCD_ADVERTISE_CLIENT_URLS: 'https://10.0.0.1:2379', ETCD_CERT_FILE: '/c.pem' }, { endpoints: ['https://10.0.0.1:2379'], address: '10.0.0.1' }],
    ['loopback first, then the address others reach', { ETCD_ADVERTISE_CLIENT_URLS: 'http://127.0.0.1:2379, http://[fd00::b]:2379' }, { endpoints: ['http://127.0.0.1:2379', 'http://[fd00::b]:2379'], address: 'fd00::b' }],
    ['unix sockets and junk are left out', { ETCD_ADVERTISE_CLIENT_URLS: 'unix://localhost:1,http://,http://10.0.0.2:2379' }, { endpoints: ['http://10.0.0.2:2379'], address: '10.0.0.2' }],
  ])('%s', (_name, env, expected) => {
    expect(localMemberOf(env as Record<string, string>)).toEqual(expected);
  });
});

describe('withLocalMember: explicit lock settings win', () => {
  const member = localMemberOf(tlsMember)!;
  test('nothing set: the member, with its TLS', () => {
    expect(withLocalMember({ endpoints: [], group: 'workers', maxHold: '2h' }, member)).toEqual({
      endpoints: ['https://10.77.0.11:2379'], group: 'workers', maxHold: '2h', cafile: '/etc/etcd/tls/ca.pem', certfile: '/etc/etcd/tls/member.pem', keyfile: '/etc/etcd/tls/member-key.pem',
    });
  });
  test.each([
    ['endpoints', { endpoints: ['http://10.0.0.9:2379'] }],
    ['a FleetLock server', { endpoints: [], fleetlockUrl: 'https://fleetlock.example' }],
  ])('%s in lock.conf: unchanged', (_name, settings) => {
    expect(withLocalMember(settings, member)).toBe(settings);
  });
  test("lock.conf's own CA and client pair are kept", () => {
    expect(withLocalMember({ endpoints: [], cafile: '/mine/ca.pem', certfile: '/mine/c.pem', keyfile: '/mine/k.pem' }, member)).toEqual({ endpoints: ['https://10.77.0.11:2379'], cafile: '/mine/ca.pem', certfile: '/mine/c.pem', keyfile: '/mine/k.pem' });
  });
  test('no member: unchanged', () => {
    const settings = { endpoints: [] };
    expect(withLocalMember(settings, undefined)).toBe(settings);
  });
});

describe('container discovery on the local member', () => {
  const member = localMemberOf(tlsMember)!;
  test('no endpoints: the member, its TLS and its address', () => {
    expect(withLocalMemberDiscovery({ ...defaultSettings }, member)).toEqual({
      ...defaultSettings,
      discoveryEndpoints: ['https://10.77.0.11:2379'],
      discoveryAddress: '10.77.0.11',
      discoveryTls: { cafile: '/etc/etcd/tls/ca.pem', certfile: '/etc/etcd/tls/member.pem', keyfile: '/etc/etcd/tls/member-key.pem' },
    });
  });
  test('endpoints of its own, or an address of its own, win', () => {
    const own = { ...defaultSettings, discoveryEndpoints: ['http://10.0.0.9:2379'] };
    expect(withLocalMemberDiscovery(own, member)).toBe(own);
    expect(withLocalMemberDiscovery({ ...defaultSettings, discoveryAddress: '192.0.2.7' }, member).discoveryAddress).toBe('192.0.2.7');
  });
});

describe('on disk, under a root', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'keel-member-'));
  });
  afterEach(async () => rm(root, { recursive: true, force: true }));
  const write = async (path: string, text: string) => {
    await mkdir(join(root, path, '..'), { recursive: true });
    await writeFile(join(root, path), text);
  };

  test('no drop-in, no lock.conf: nothing (the agent then falls back to 127.0.0.1:2379)', () => {
    expect(readLocalMember(root)).toBeUndefined();
    expect(readHostLockSettings(root)).toBeUndefined();
  });

  test("cloud-config's drop-in and a lock.conf naming only the group", async () => {
    await write(etcdMemberDropInPath, etcdDropIn(tlsMember));
    await write('etc/keel/lock.conf', 'GROUP=workers\n');
    expect(readHostLockSettings(root)).toEqual({ endpoints: ['https://10.77.0.11:2379'], group: 'workers', cafile: '/etc/etcd/tls/ca.pem', certfile: '/etc/etcd/tls/member.pem', keyfile: '/etc/etcd/tls/member-key.pem' });
  });

  test('the drop-in alone', async () => {
    await write(etcdMemberDropInPath, etcdDropIn({ ETCD_ADVERTISE_CLIENT_URLS: 'http://10.77.0.12:2379' }));
    expect(readHostLockSettings(root)).toEqual({ endpoints: ['http://10.77.0.12:2379'] });
  });
});
