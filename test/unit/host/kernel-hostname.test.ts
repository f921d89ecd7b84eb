import { afterEach, beforeEach, expect, test } from 'vitest';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeKernelHostname } from '../../../src/host/kernel-hostname.js';

let proc: string;
beforeEach(async () => {
  proc = await mkdtemp(join(tmpdir(), 'keel-proc-'));
  await mkdir(join(proc, 'sys/kernel'), { recursive: true });
});
afterEach(async () => rm(proc, { recursive: true, force: true }));

test('writeKernelHostname writes the name as hostname(1) would', async () => {
  await writeKernelHostname('web-1', proc);
  expect(await readFile(join(proc, 'sys/kernel/hostname'), 'utf8')).toBe('web-1');
});
