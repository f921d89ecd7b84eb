import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { KeelError } from '../../../../src/errors.js';
import { parseNocloudMetaData, readNocloudDir } from '../../../../src/cloudconfig/datasources/nocloud-seed.js';
import { readDatasource } from '../../../../src/cloudconfig/datasources/index.js';

describe('NoCloud meta-data', () => {
  test.each([
    ['empty', '', { sshPublicKeys: [] }],
    ['instance id and hostname', 'instance-id: iid-1\nlocal-hostname: node1\n', { instanceId: 'iid-1', hostname: 'node1', sshPublicKeys: [] }],
    ['underscored keys', 'instance_id: iid-2\nlocal_hostname: n2\n', { instanceId: 'iid-2', hostname: 'n2', sshPublicKeys: [] }],
    ['hostname fallback', 'hostname: h\n', { hostname: 'h', sshPublicKeys: [] }],
    ['numeric instance id', 'instance-id: 1234\n', { instanceId: '1234', sshPublicKeys: [] }],
    ['public-keys list', 'public-keys:\n  - ssh-rsa A\n  - ssh-rsa B\n', { sshPublicKeys: ['ssh-rsa A', 'ssh-rsa B'] }],
    ['public-keys map', 'public-keys:\n  me: ssh-rsa A\n', { sshPublicKeys: ['ssh-rsa A'] }],
    ['network-interfaces ignored', 'instance-id: x\nnetwork-interfaces: |\n  iface eth0 inet dhcp\n', { instanceId: 'x', sshPublicKeys: [] }],
  ])('%s', (_, text, expected) => {
    expect(parseNocloudMetaData(text, 'nocloud:test')).toEqual(expected);
  });

  test.each([
    ['invalid YAML', 'instance-id: [unclosed\n', 'meta-data is not valid YAML'],
    ['a list', '- a\n- b\n', 'meta-data is a list, expected a mapping'],
    ['a scalar', 'just text', 'meta-data is a string, expected a mapping'],
  ])('%s is refused with the source named', (_, text, message) => {
    const error = (() => { try { parseNocloudMetaData(text, 'nocloud:/dev/sr0'); } catch (e) { return e; } })();
    expect(error).toBeInstanceOf(KeelError);
    expect((error as KeelError).kind).toBe('invalid-input');
    expect((error as KeelError).message).toContain('nocloud:/dev/sr0');
    expect((error as KeelError).message).toContain(message);
  });
});

describe('NoCloud from a seed directory', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'keel-nocloud-test-'));
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  test('reads user-data and meta-data', async () => {
    await fs.writeFile(path.join(dir, 'user-data'), '#cloud-config\nhostname: a\n');
    await fs.writeFile(path.join(dir, 'meta-data'), 'instance-id: iid-a\npublic-keys: [ssh-rsa K]\n');
    await fs.writeFile(path.join(dir, 'network-config'), 'version: 2\n');
    const result = await readDatasource('nocloud', { seedDir: dir });
    expect(result?.source).toBe(`nocloud:${dir}`);
    expect(new TextDecoder().decode(result?.userData)).toBe('#cloud-config\nhostname: a\n');
    expect(result?.metadata).toEqual({ instanceId: 'iid-a', sshPublicKeys: ['ssh-rsa K'] });
  });

  test('meta-data alone gives empty user-data', async () => {
    await fs.writeFile(path.join(dir, 'meta-data'), 'instance-id: only-meta\n');
    const result = await readNocloudDir(dir, 'nocloud:x');
    expect(result?.userData.byteLength).toBe(0);
    expect(result?.metadata.instanceId).toBe('only-meta');
  });

  test('user-data bytes are passed through untouched (gzip stays gzip)', async () => {
    const gz = new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3]);
    await fs.writeFile(path.join(dir, 'user-data'), gz);
    expect((await readNocloudDir(dir, 'nocloud:x'))?.userData).toEqual(gz);
  });

  test('an empty directory is no seed', async () => {
    expect(await readDatasource('nocloud', { seedDir: dir })).toBeUndefined();
  });

  test('user-data over the size limit is refused', async () => {
    await fs.writeFile(path.join(dir, 'user-data'), 'x'.repeat(2000));
    await expect(readDatasource('nocloud', { seedDir: dir, maxBytes: 1000 })).rejects.toThrow(/2000 bytes, more than the 1000 allowed/);
  });
});
