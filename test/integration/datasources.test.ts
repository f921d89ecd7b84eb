import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { detectDatasources, readDatasource } from '../../src/cloudconfig/datasources/index.js';

// Real seed images, as a hypervisor would attach them: vfat made with mkfs.vfat + mtools,
// iso9660 made with genisoimage, attached with losetup, found by label and read by keel
// from the device itself (seed-image/), then detached. Nothing is mounted.
type Tree = Record<string, string>;

let work: string;
const attached: string[] = [];

async function vfatImage(label: string, tree: Tree): Promise<string> {
  const image = path.join(work, `${label}-${attached.length}.vfat`);
  await execa('truncate', ['-s', '4M', image]);
  await execa('mkfs.vfat', ['-n', label, image]);
  for (const [file, content] of Object.entries(tree)) {
    const local = path.join(work, 'staging', file);
    await fs.mkdir(path.dirname(local), { recursive: true });
    await fs.writeFile(local, content);
    const dirs = path.dirname(file).split('/').filter((d) => d !== '.');
    for (let i = 1; i <= dirs.length; i++) await execa('mmd', ['-i', image, `::${dirs.slice(0, i).join('/')}`], { reject: false });
    await execa('mcopy', ['-o', '-i', image, local, `::${file}`]);
  }
  return image;
}

async function isoImage(label: string, tree: Tree): Promise<string> {
  const root = await fs.mkdtemp(path.join(work, 'iso-root-'));
  for (const [file, content] of Object.entries(tree)) {
    await fs.mkdir(path.dirname(path.join(root, file)), { recursive: true });
    await fs.writeFile(path.join(root, file), content);
  }
  const image = path.join(work, `${label}-${attached.length}.iso`);
  await execa('genisoimage', ['-quiet', '-output', image, '-volid', label, '-joliet', '-rock', root]);
  return image;
}

async function attach(image: string): Promise<string> {
  const { stdout } = await execa('losetup', ['--find', '--show', '--read-only', image]);
  attached.push(stdout.trim());
  return stdout.trim();
}

async function detachAll(): Promise<void> {
  while (attached.length > 0) await execa('losetup', ['-d', attached.pop()!], { reject: false });
}

async function seedMounts(): Promise<string> {
  const { stdout } = await execa('findmnt', ['-rn', '-o', 'TARGET'], { reject: false });
  return stdout.split('\n').filter((t) => t.includes('keel-seed-')).join('\n');
}

const nocloudTree: Tree = {
  'user-data': '#cloud-config\nhostname: seeded\n',
  'meta-data': 'instance-id: iid-loop\nlocal-hostname: loop-host\npublic-keys:\n  - ssh-ed25519 AAAA loop\n',
  'network-config': 'version: 2\n',
};
const configDriveTree: Tree = {
  'openstack/latest/user_data': '#cloud-config\nhostname: from-config-drive\n',
  'openstack/latest/meta_data.json': JSON.stringify({ uuid: 'cd-uuid-1', hostname: 'cd-host', public_keys: { mykey: 'ssh-rsa CCCC cd' } }),
  'ec2/latest/meta-data.json': JSON.stringify({ 'public-ipv4': '198.51.100.7', 'local-ipv4': '10.1.2.3' }),
};

describe('disk datasources on loop devices', () => {
  beforeAll(async () => {
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'keel-ds-int-'));
  });
  afterEach(async () => {
    await detachAll();
    expect(await seedMounts()).toBe('');
  });
  afterAll(async () => {
    await detachAll();
    await fs.rm(work, { recursive: true, force: true });
  });

  test.each([
    ['vfat labelled cidata', () => vfatImage('cidata', nocloudTree)],
    ['vfat labelled CIDATA', () => vfatImage('CIDATA', nocloudTree)],
    ['iso9660 labelled cidata', () => isoImage('cidata', nocloudTree)],
  ])('NoCloud from %s', async (_, make) => {
    const device = await attach(await make());
    const result = await readDatasource('nocloud');
    expect(result?.source).toBe(`nocloud:${device}`);
    expect(new TextDecoder().decode(result?.userData)).toBe(nocloudTree['user-data']);
    expect(result?.metadata).toEqual({ instanceId: 'iid-loop', hostname: 'loop-host', sshPublicKeys: ['ssh-ed25519 AAAA loop'] });
  });

  test.each([
    ['iso9660', () => isoImage('config-2', configDriveTree)],
    ['vfat', () => vfatImage('config-2', configDriveTree)],
  ])('config-drive from %s labelled config-2', async (_, make) => {
    const device = await attach(await make());
    const result = await readDatasource('config-drive');
    expect(result?.source).toBe(`config-drive:${device}`);
    expect(new TextDecoder().decode(result?.userData)).toBe('#cloud-config\nhostname: from-config-drive\n');
    expect(result?.metadata).toEqual({
      instanceId: 'cd-uuid-1', hostname: 'cd-host', publicIpv4: '198.51.100.7', privateIpv4: '10.1.2.3', sshPublicKeys: ['ssh-rsa CCCC cd'],
    });
  });

  test('no labelled device means no datasource', async () => {
    expect(await readDatasource('config-drive')).toBeUndefined();
  });

  test('a labelled filesystem without seed files is passed over', async () => {
    await attach(await vfatImage('cidata', { 'README': 'not a seed\n' }));
    expect(await readDatasource('nocloud')).toBeUndefined();
  });

  test('detection finds a seed attached while it polls', async () => {
    const image = await isoImage('cidata', nocloudTree);
    setTimeout(() => void attach(image), 300);
    const found = await detectDatasources({ names: ['config-drive', 'nocloud'], deadlineMs: 20_000 });
    expect(found.result?.source).toBe(`nocloud:${attached[0]}`);
    expect(found.result?.metadata.instanceId).toBe('iid-loop');
  });
});
