import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sharesHostnameWithSystemd, writeKernelHostname } from '../../../src/host/kernel-hostname.js';

// A stand-in /proc: the namespace links are symlinks to 'uts:[N]' as the kernel's are.
let proc: string;
beforeEach(async () => {
  proc = await mkdtemp(join(tmpdir(), 'keel-proc-'));
  await mkdir(join(proc, 'self/ns'), { recursive: true });
  await mkdir(join(proc, '1/ns'), { recursive: true });
  await mkdir(join(proc, 'sys/kernel'), { recursive: true });
});
afterEach(async () => rm(proc, { recursive: true, force: true }));

async function fakeProc(own: string, init: string, comm: string) {
  await symlink(own, join(proc, 'self/ns/uts'));
  await symlink(init, join(proc, '1/ns/uts'));
  await writeFile(join(proc, '1/comm'), `${comm}\n`);
}

describe('sharesHostnameWithSystemd', () => {
  test('true for a service of PID 1 systemd in its namespace', async () => {
    await fakeProc('uts:[4026531838]', 'uts:[4026531838]', 'systemd');
    expect(await sharesHostnameWithSystemd(proc)).toBe(true);
  });
  test('false in another UTS namespace (a container, a test guest entered from outside)', async () => {
    await fakeProc('uts:[4026532301]', 'uts:[4026531838]', 'systemd');
    expect(await sharesHostnameWithSystemd(proc)).toBe(false);
  });
  test('false when PID 1 is not systemd', async () => {
    await fakeProc('uts:[4026531838]', 'uts:[4026531838]', 'tini');
    expect(await sharesHostnameWithSystemd(proc)).toBe(false);
  });
  test('false when PID 1 cannot be read', async () => {
    await symlink('uts:[4026531838]', join(proc, 'self/ns/uts'));
    expect(await sharesHostnameWithSystemd(proc)).toBe(false);
  });
});

test('writeKernelHostname writes the name as hostname(1) would', async () => {
  await writeKernelHostname('web-1', proc);
  expect(await readFile(join(proc, 'sys/kernel/hostname'), 'utf8')).toBe('web-1');
});
