import { expect, test } from 'vitest';
import { KeelError } from '../../../src/errors.js';
import type { CommandOptions, CommandResult, RunCommand } from '../../../src/host/process.js';
import { addSeedPartition, verifyGpt } from '../../../src/install/gpt.js';

// The installer's GPT edits run sgdisk through the process edge: a recording fake shows the
// arguments and stands in for sgdisk's answers and failures, with no disk involved.
function fakeSgdisk(answers: Record<string, Partial<CommandResult>>): RunCommand & { calls: string[] } {
  const calls: string[] = [];
  const run = async (file: string, args: readonly string[], _options?: CommandOptions) => {
    calls.push([file, ...args].join(' '));
    return { exitCode: 0, stdout: '', stderr: '', timedOut: false, ...(answers[args[0] ?? ''] ?? {}) };
  };
  return Object.assign(run, { calls });
}

const table = `Disk /dev/loop0: 131072 sectors, 64.0 MiB
First usable sector is 34, last usable sector is 131038
Number  Start (sector)    End (sector)  Size       Code  Name
   1            2048           18431   8.0 MiB     EF00  EFI-SYSTEM
   4           51200           67583   8.0 MiB     8300  keel-state
`;

test('the seed partition goes into the gap before the first partition, as the first free number from 5', async () => {
  const run = fakeSgdisk({ '-p': { stdout: table } });
  const part = await addSeedPartition(run, '/dev/loop0');
  expect(part).toEqual({ number: 5, startSector: 40, endSector: 2047, code: '0700', name: 'cidata' });
  expect(run.calls).toEqual(['sgdisk -p /dev/loop0', 'sgdisk -a 8 -n 5:40:2047 -t 5:0700 -c 5:cidata /dev/loop0']);
});

test('no gap before the first partition is a conflict, and nothing is added', async () => {
  const run = fakeSgdisk({ '-p': { stdout: table.replace('   1            2048', '   1              64') } });
  await expect(addSeedPartition(run, '/dev/loop0')).rejects.toThrow(/first partition starts at sector 64; no gap for the cloud-config seed partition/);
  expect(run.calls).toEqual(['sgdisk -p /dev/loop0']);
});

test('a failing sgdisk is an io error naming what it was doing', async () => {
  const error = await verifyGpt(fakeSgdisk({ '-v': { exitCode: 2, stderr: 'Problem: CRC mismatch\n' } }), '/dev/loop0').catch((e: unknown) => e);
  expect(error).toBeInstanceOf(KeelError);
  expect((error as KeelError).kind).toBe('io');
  expect((error as Error).message).toBe('sgdisk -v /dev/loop0 (verify) failed: Problem: CRC mismatch');
});
