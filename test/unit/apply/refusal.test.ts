/**
 * A hostile root: FIFOs, device nodes, oversized files, files where directories belong
 * and links that climb out, at paths a config writes, appends to or makes keel read. The
 * apply refuses at once (never blocks on a FIFO, never streams a device), names the path
 * inside the root, and writes nothing at all: the tree is byte-identical afterwards.
 */
import { createHash } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { applyPlan } from '../../../src/apply/apply.js';
import type { CloudConfig } from '../../../src/cloudconfig/model.js';
import { planCloudConfig } from '../../../src/cloudconfig/plan.js';
import { maxReadBytes } from '../../../src/host/bounded-read.js';
import { config, file, input, unit, user } from '../cloudconfig/plan-fixtures.js';
import { mkCharDevice, mkfifo, mkSparse } from '../host/special-files.js';
import { hostFor, makeRoot } from './temp-root.js';

let root: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ root, cleanup } = await makeRoot()));
afterEach(async () => cleanup());

/**
 * Every path under `dir` with its type, mode, owner, size, link target and a hash of its
 * bytes (regular files only: a FIFO or a device is never opened).
 */
async function tree(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const name of (await readdir(join(dir, rel))).sort()) {
    const path = `${rel}/${name}`;
    const st = await lstat(join(dir, path));
    const body = st.isFile() ? createHash('sha256').update(await readFile(join(dir, path))).digest('hex') : st.isSymbolicLink() ? await readlink(join(dir, path)) : '';
    out.push(`${path} ${st.mode.toString(8)} ${st.uid}:${st.gid} ${st.size} ${st.rdev} ${body}`);
    if (st.isDirectory()) out.push(...(await tree(dir, path)));
  }
  return out;
}

/** Replaces a file of the base root (passwd, group...) with something hostile. */
async function instead(path: string, make: (p: string) => unknown): Promise<void> {
  await rm(join(root, path));
  await make(join(root, path));
}

const twoFiles = [file('/etc/first.conf', 'one\n'), file('/etc/second.conf', 'two\n')];

/** Each case: what to plant in the root, and a third write_files entry that it makes impossible. */
const thirdRefused: [string, () => Promise<void>, ReturnType<typeof file>, RegExp][] = [
  ['a relative symlink that climbs out', () => symlink('../../outside', join(root, 'etc/evil')), file('/etc/evil/x', 'x'), /path "\/etc\/evil\/x" leads outside the root through the symlink \/etc\/evil -> \.\.\/\.\.\/outside/],
  ['a FIFO appended to', async () => mkfifo(join(root, 'etc/app.log')), file('/etc/app.log', 'line\n', { append: true }), /\/etc\/app\.log is a FIFO \(named pipe\); expected a regular file/],
  [
    'a /dev/zero device node appended to',
    async () => {
      await mkdir(join(root, 'dev'));
      mkCharDevice(join(root, 'dev/zero'));
    },
    file('/dev/zero', 'x', { append: true }),
    /\/dev\/zero is a character device; expected a regular file/,
  ],
  [
    'a link inside the root to a FIFO, appended to',
    async () => {
      mkfifo(join(root, 'etc/pipe'));
      await symlink('/etc/pipe', join(root, 'etc/motd'));
    },
    file('/etc/motd', 'hi\n', { append: true }),
    /\/etc\/pipe is a FIFO/,
  ],
  ['an append target over the read bound', () => mkSparse(join(root, 'etc/huge.log'), maxReadBytes + 1), file('/etc/huge.log', 'x', { append: true }), new RegExp(`/etc/huge\\.log is ${maxReadBytes + 1} bytes; expected at most ${maxReadBytes} bytes`)],
  ['a file where a directory must be', () => writeFile(join(root, 'etc/app'), 'a file'), file('/etc/app/conf', 'x'), /\/etc\/app is a regular file; expected a directory on the way to \/etc\/app\/conf/],
  ['a FIFO where a directory must be', async () => mkfifo(join(root, 'etc/app')), file('/etc/app/conf', 'x'), /\/etc\/app is a FIFO \(named pipe\); expected a directory/],
  ['a directory where the file goes', () => mkdir(join(root, 'etc/conf.d')), file('/etc/conf.d', 'x'), /\/etc\/conf\.d is a directory; expected a file, a link or nothing there/],
  ['an owner when /etc/passwd is a FIFO', () => instead('etc/passwd', mkfifo), file('/etc/owned', 'x', { owner: 'root:root' }), /\/etc\/passwd is a FIFO/],
];

describe('a config whose third operation is refused writes nothing', () => {
  // Before: the first two files were written, then the apply stopped (or hung for ever on the FIFO).
  test.each(thirdRefused)('%s', async (_name, plant, third, expected) => {
    await plant();
    const before = await tree(root);
    const plan = planCloudConfig(input(config({ writeFiles: [...twoFiles, third] }), { live: false }));
    expect(plan.operations[2]?.kind).toBe('write-file');
    const report = await applyPlan(plan, hostFor(root));
    expect(report.stoppedAt?.index).toBe(2);
    expect(report.nothingWritten).toBe(true);
    expect(report.stoppedAt?.detail).toMatch(expected);
    expect(report.stoppedAt?.detail).toMatch(/; refusing to apply, nothing was written$/);
    expect(report.outcomes).toHaveLength(1);
    expect(await tree(root)).toEqual(before);
  });
});

/** Configs that make keel read or rewrite files other than the ones they name. */
const hostileReads: [string, () => Promise<void>, Partial<CloudConfig>, RegExp][] = [
  ['a FIFO at /etc/passwd when a user is created', () => instead('etc/passwd', mkfifo), { users: [user('alice')] }, /\/etc\/passwd is a FIFO/],
  ['a character device at /etc/group', () => instead('etc/group', (p) => mkCharDevice(p)), { users: [user('alice')] }, /\/etc\/group is a character device/],
  ['a FIFO at /etc/shadow when a password is set', () => instead('etc/shadow', mkfifo), { users: [user('alice', { passwd: '$6$s$h' })] }, /\/etc\/shadow is a FIFO/],
  ['an oversized /etc/gshadow', () => instead('etc/gshadow', (p) => mkSparse(p, maxReadBytes + 1)), { users: [user('alice')] }, /\/etc\/gshadow is \d+ bytes; expected at most/],
  [
    "a FIFO at an existing user's authorized_keys",
    async () => {
      await writeFile(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/bash\ncore:x:500:500::/home/core:/bin/sh\n');
      await mkdir(join(root, 'home/core/.ssh'), { recursive: true });
      mkfifo(join(root, 'home/core/.ssh/authorized_keys'));
    },
    { sshAuthorizedKeys: ['ssh-ed25519 AAAA k'] },
    /\/home\/core\/\.ssh\/authorized_keys is a FIFO/,
  ],
  [
    "a link at an existing user's ~/.ssh",
    async () => {
      await writeFile(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/bash\ncore:x:500:500::/home/core:/bin/sh\n');
      await mkdir(join(root, 'home/core'), { recursive: true });
      await symlink('/etc', join(root, 'home/core/.ssh'));
    },
    { sshAuthorizedKeys: ['ssh-ed25519 AAAA k'] },
    /\/home\/core\/\.ssh is a symlink; expected a directory/,
  ],
  ['a file where the new home\'s parent must be', () => writeFile(join(root, 'home'), ''), { users: [user('alice')] }, /\/home is a regular file; expected a directory/],
  ['an oversized file in /etc/skel', () => mkSparse(join(root, 'etc/skel/.big'), maxReadBytes + 1), { users: [user('alice')] }, /\/etc\/skel\/\.big is \d+ bytes/],
  ['a unit file that is a FIFO', async () => {
    await mkdir(join(root, 'lib/systemd/system'), { recursive: true });
    mkfifo(join(root, 'lib/systemd/system/img.service'));
  }, { units: [unit('img.service', { enable: true })] }, /\/lib\/systemd\/system\/img\.service is a FIFO/],
  ['a unit to enable that exists nowhere', async () => undefined, { units: [unit('ghost.service', { enable: true })] }, /unit ghost\.service not found in \/etc\/systemd\/system/],
  ['a link directory that is a file', async () => {
    await mkdir(join(root, 'etc/systemd/system'), { recursive: true });
    await writeFile(join(root, 'etc/systemd/system/multi-user.target.wants'), '');
  }, { units: [unit('a.service', { content: '[Install]\nWantedBy=multi-user.target\n', enable: true })] }, /\/etc\/systemd\/system\/multi-user\.target\.wants is a regular file; expected a directory/],
];

describe('files keel reads or rewrites on its own are checked too', () => {
  test.each(hostileReads)('%s', async (_name, plant, partial, expected) => {
    await plant();
    const before = await tree(root);
    const plan = planCloudConfig(input(config({ writeFiles: twoFiles, ...partial }), { live: false }));
    const report = await applyPlan(plan, hostFor(root));
    expect(report.nothingWritten).toBe(true);
    expect(report.stoppedAt?.detail).toMatch(expected);
    expect(report.stoppedAt?.detail).toMatch(/; refusing to apply, nothing was written$/);
    expect(await tree(root)).toEqual(before);
  });

  test('every problem is listed, not only the first', async () => {
    mkfifo(join(root, 'etc/a'));
    mkfifo(join(root, 'etc/b'));
    const plan = planCloudConfig(input(config({ writeFiles: [file('/etc/a', 'x', { append: true }), file('/etc/b', 'x', { append: true })] }), { live: false }));
    const report = await applyPlan(plan, hostFor(root));
    expect(report.stoppedAt?.detail).toBe('/etc/a is a FIFO (named pipe); expected a regular file; /etc/b is a FIFO (named pipe); expected a regular file; refusing to apply, nothing was written');
  });

  test('a unit written earlier in the same config is found by enable, and a plain write replaces a FIFO', async () => {
    mkfifo(join(root, 'etc/replaced'));
    const plan = planCloudConfig(
      input(config({ writeFiles: [file('/etc/replaced', 'now a file\n')], units: [unit('a.service', { content: '[Install]\nWantedBy=multi-user.target\n', enable: true })] }), { live: false }),
    );
    const report = await applyPlan(plan, hostFor(root));
    expect(report.stoppedAt).toBeUndefined();
    expect(await readFile(join(root, 'etc/replaced'), 'utf8')).toBe('now a file\n');
    expect(await readlink(join(root, 'etc/systemd/system/multi-user.target.wants/a.service'))).toBe('/etc/systemd/system/a.service');
  });

  test('an append after a write to the same path does not look at what is there now', async () => {
    mkfifo(join(root, 'etc/log'));
    const plan = planCloudConfig(input(config({ writeFiles: [file('/etc/log', 'one\n'), file('/etc/log', 'two\n', { append: true })] }), { live: false }));
    const report = await applyPlan(plan, hostFor(root));
    expect(report.stoppedAt).toBeUndefined();
    expect(await readFile(join(root, 'etc/log'), 'utf8')).toBe('one\ntwo\n');
  });

  test('the time zone file is only looked at, never read (a FIFO there does not block)', async () => {
    await mkdir(join(root, 'usr/share/zoneinfo'), { recursive: true });
    mkfifo(join(root, 'usr/share/zoneinfo/UTC'));
    const report = await applyPlan(planCloudConfig(input(config({ timezone: 'UTC' }), { live: false })), hostFor(root));
    expect(report.stoppedAt).toBeUndefined();
    expect(report.outcomes.find((o) => o.kind === 'set-timezone')?.detail).toBe('/etc/localtime -> /usr/share/zoneinfo/UTC (zone file not in this root yet)');
  });
});
