import { afterAll, beforeAll, expect, test } from 'vitest';
import { chown, link, mkdir, mkdtemp, opendir, readdir, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { sha256OfFile } from '../../../src/update/release-bundle.js';

// Issue 14: two builds of the slot from one OS tree give the same bytes. The tree is made twice
// on tmpfs, in opposite orders (so readdir lists them differently), with different mtimes, and
// each copy goes through what `make slot` runs (images/make-slot.sh, real mkfs.erofs) at a
// different wall-clock second; the SHA-256s must agree. normalise-tree.sh, customise.sh's last
// step, is checked on the leftovers it removes.
const makeSlot = join(process.cwd(), 'images/make-slot.sh');
const normalise = join(process.cwd(), 'images/normalise-tree.sh');
const epoch = '1700000000';
let work: string;

beforeAll(async () => {
  // /dev/shm is tmpfs: its readdir order is the reverse of creation, unlike ext4's hash order.
  work = await mkdtemp('/dev/shm/keel-slot-');
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function makeTree(dir: string, order: number[], mtimeS: number): Promise<void> {
  await mkdir(join(dir, 'etc'), { recursive: true });
  for (const i of order) {
    const sub = join(dir, 'usr', `dir${i}`);
    await mkdir(sub, { recursive: true });
    await writeFile(join(sub, `file${i}`), `content ${i}\n`.repeat(i * 400));
    await chown(join(sub, `file${i}`), i, 100 + i);
    await symlink(`file${i}`, join(sub, `link${i}`));
    await link(join(sub, `file${i}`), join(dir, 'usr', `hard${i}`));
    await utimes(join(sub, `file${i}`), mtimeS + i, mtimeS + i);
  }
  await writeFile(join(dir, 'etc', 'shadow'), 'root:*:20790:0:99999:7:::\nkeel:!:20791:0:99999:7:::\n', { mode: 0o640 });
}

async function listed(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of await opendir(dir)) names.push(entry.name);
  return names;
}

async function slotOf(tree: string, out: string, version = '1.0.0', sourceDateEpoch = epoch): Promise<string> {
  await execa(makeSlot, [tree, out, version], { env: { SOURCE_DATE_EPOCH: sourceDateEpoch } });
  return sha256OfFile(out);
}

test('one tree made in two orders with other mtimes: the same slot bytes; another version or epoch: other bytes', async () => {
  const order = [1, 2, 3, 4, 5, 6, 7, 8, 9];
  await makeTree(join(work, 'a'), order, 1_600_000_000);
  await makeTree(join(work, 'b'), [...order].reverse(), 1_650_000_000);
  // The test means something only if the two trees list their entries differently.
  // (fs.readdir sorts; a Dir lists in the filesystem's own order, as mkfs.erofs reads it.)
  expect(await listed(join(work, 'a', 'usr'))).not.toEqual(await listed(join(work, 'b', 'usr')));
  const a = await slotOf(join(work, 'a'), join(work, 'a.img'));
  await new Promise((r) => setTimeout(r, 1100)); // another build second
  const b = await slotOf(join(work, 'b'), join(work, 'b.img'));
  expect(b).toBe(a);
  expect(await slotOf(join(work, 'a'), join(work, 'c.img'), '1.0.1')).not.toBe(a);
  expect(await slotOf(join(work, 'a'), join(work, 'd.img'), '1.0.0', '1700000001')).not.toBe(a);
});

test('make-slot.sh without SOURCE_DATE_EPOCH refuses and writes nothing', async () => {
  const run = await execa(makeSlot, [join(work, 'a'), join(work, 'none.img'), '1.0.0'], { reject: false, env: { SOURCE_DATE_EPOCH: '' } });
  expect(run.exitCode).not.toBe(0);
  expect(run.stderr).toContain('SOURCE_DATE_EPOCH');
  expect(await readdir(work)).not.toContain('none.img');
});

test('normalise-tree.sh removes build-host leftovers and sets shadow days to SOURCE_DATE_EPOCH', async () => {
  const tree = join(work, 'leftovers');
  for (const d of ['etc', 'var/cache/ldconfig', 'var/log/apt', 'var/lib/dpkg', 'tmp', 'var/lib/systemd']) await mkdir(join(tree, d), { recursive: true });
  const leftovers = ['var/cache/ldconfig/aux-cache', 'etc/.pwd.lock', 'etc/passwd-', 'etc/shadow-', 'var/log/apt/history.log', 'var/lib/dpkg/status-old', 'tmp/x', 'var/lib/systemd/random-seed'];
  for (const f of leftovers) await writeFile(join(tree, f), 'x');
  await writeFile(join(tree, 'etc/shadow'), 'root:*:20790:0:99999:7:::\nbroken\n', { mode: 0o640 });
  await writeFile(join(tree, 'var/lib/dpkg/status'), 'kept');
  await execa(normalise, [tree], { env: { SOURCE_DATE_EPOCH: epoch } });
  for (const f of leftovers) await expect(readFile(join(tree, f))).rejects.toThrow(/ENOENT/);
  expect(await readFile(join(tree, 'etc/shadow'), 'utf8')).toBe(`root:*:${Math.floor(Number(epoch) / 86400)}:0:99999:7:::\nbroken\n`);
  expect(await readFile(join(tree, 'var/lib/dpkg/status'), 'utf8')).toBe('kept');
  expect(await readdir(join(tree, 'var/log'))).toEqual(['apt']); // directories stay: packages expect them
});
