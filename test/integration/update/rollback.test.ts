import { expect, test } from 'vitest';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { tempDir } from '../../unit/update/fixture.js';
import { bootOnce, makeHostTree } from './boot-tree.js';

// `keel update rollback` on a host tree: the other slot's good entry becomes the next boot
// and the version rolled away from is not installed again; a slot with nothing bootable is refused.
const keel = join(process.cwd(), 'bin/keel');

async function twoSlotHost(): Promise<string> {
  const root = join(await tempDir('keel-rollback-'), 'root');
  await makeHostTree(root, '1.0.0', {});
  await writeFile(
    join(root, 'boot/loader/entries/keel-2.0.0.conf'),
    'title keel 2.0.0 (slot b)\nversion 2.0.0\nsort-key keel\nlinux /keel/b/vmlinuz\ninitrd /keel/b/initramfs.img\noptions console=ttyS0,115200 ro keel.slot=b\n',
  );
  expect(await bootOnce(root)).toMatchObject({ slot: 'b', version: '2.0.0' });
  return root;
}

test('rollback makes the other slot the next boot and skips the version rolled away from', async () => {
  const root = await twoSlotHost();
  const run = await execa(keel, ['update', 'rollback', '--root', root, '--json']);
  expect(JSON.parse(run.stdout)).toEqual({ nextBoot: { slot: 'a', version: '1.0.0', entry: 'keel-1.0.0.conf' }, skipped: '2.0.0' });
  expect(await readFile(join(root, 'boot/loader/loader.conf'), 'utf8')).toMatch(/^default keel-1\.0\.0\.conf$/m);
  expect(await bootOnce(root)).toMatchObject({ slot: 'a', version: '1.0.0' });
  const status = JSON.parse((await execa(keel, ['update', 'status', '--json', '--root', root])).stdout);
  expect(status).toMatchObject({ booted: { slot: 'a', version: '1.0.0', state: 'good' }, other: { slot: 'b', version: '2.0.0', state: 'good' }, failedVersions: ['2.0.0'] });
});

test('rollback is refused while the other slot holds a partial download', async () => {
  const root = await twoSlotHost();
  await mkdir(join(root, 'var/lib/keel/update'), { recursive: true });
  await writeFile(join(root, 'var/lib/keel/update/3.0.0.partial'), JSON.stringify({ version: '3.0.0', phase: 'partial', target: '/dev/x', slot: 'a', length: 10, sha256: 'x', written: 4, updatedAt: '' }));
  const run = await execa(keel, ['update', 'rollback', '--root', root], { reject: false });
  expect(run.exitCode).toBe(1);
  expect(run.stderr).toMatch(/slot a holds nothing bootable \(a partial download of 3\.0\.0\); rollback refused, the next boot stays slot b/);
  expect(await readFile(join(root, 'boot/loader/loader.conf'), 'utf8')).not.toMatch(/default/);
});
