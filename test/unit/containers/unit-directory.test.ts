import { mkdtemp, readdir, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { UnitDirectory, unitDirectory } from '../../../src/containers/unit-directory.js';
import { unitNameOf } from '../../../src/containers/unit-from-spec.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'keel-unit-dir-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('UnitDirectory', () => {
  test('writes a unit with mode 0644, replaces it whole and leaves no temp file', async () => {
    const units = new UnitDirectory(root);
    await units.write(unitNameOf('web'), 'first\n');
    await units.write(unitNameOf('web'), 'second\n');
    expect(await readdir(join(root, unitDirectory))).toEqual([unitNameOf('web')]);
    expect((await stat(join(root, unitDirectory, unitNameOf('web')))).mode & 0o777).toBe(0o644);
    expect(await units.read()).toEqual(new Map([['web', 'second\n']]));
  });

  test('reads only keel units and an absent directory as empty', async () => {
    const units = new UnitDirectory(root);
    expect(await units.read()).toEqual(new Map());
    await mkdir(join(root, unitDirectory), { recursive: true });
    await writeFile(join(root, unitDirectory, 'other.service'), 'x');
    await units.write(unitNameOf('db'), 'db\n');
    expect(await units.read()).toEqual(new Map([['db', 'db\n']]));
    await units.remove(unitNameOf('db'));
    expect(await units.read()).toEqual(new Map());
  });
});
