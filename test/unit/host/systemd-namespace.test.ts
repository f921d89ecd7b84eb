// Whether keel shares a namespace with PID 1's systemd, against a stand-in /proc: the namespace
// links are symlinks to 'uts:[N]' (or 'net:[N]') as the kernel's are.
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sharesNamespaceWithSystemd } from '../../../src/host/systemd-namespace.js';

let proc: string;
beforeEach(async () => {
  proc = await mkdtemp(join(tmpdir(), 'keel-proc-'));
  await mkdir(join(proc, 'self/ns'), { recursive: true });
  await mkdir(join(proc, '1/ns'), { recursive: true });
});
afterEach(async () => rm(proc, { recursive: true, force: true }));

async function fakeProc(kind: 'uts' | 'net', own: string, init: string, comm: string) {
  await symlink(`${kind}:[${own}]`, join(proc, `self/ns/${kind}`));
  await symlink(`${kind}:[${init}]`, join(proc, `1/ns/${kind}`));
  await writeFile(join(proc, '1/comm'), `${comm}\n`);
}

describe.each(['uts', 'net'] as const)('sharesNamespaceWithSystemd(%s)', (kind) => {
  test('true for a service of PID 1 systemd in its namespace', async () => {
    await fakeProc(kind, '4026531838', '4026531838', 'systemd');
    expect(await sharesNamespaceWithSystemd(kind, proc)).toBe(true);
  });
  test('false in another namespace (a container, a test guest entered from outside)', async () => {
    await fakeProc(kind, '4026532301', '4026531838', 'systemd');
    expect(await sharesNamespaceWithSystemd(kind, proc)).toBe(false);
  });
  test('false when PID 1 is not systemd', async () => {
    await fakeProc(kind, '4026531838', '4026531838', 'tini');
    expect(await sharesNamespaceWithSystemd(kind, proc)).toBe(false);
  });
  test('false when PID 1 cannot be read', async () => {
    await symlink(`${kind}:[4026531838]`, join(proc, `self/ns/${kind}`));
    expect(await sharesNamespaceWithSystemd(kind, proc)).toBe(false);
  });
});
