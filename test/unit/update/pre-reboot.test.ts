import { describe, expect, test } from 'vitest';
import { runPreRebootChecks } from '../../../src/update/pre-reboot.js';
import type { CommandResult, RunCommand } from '../../../src/host/process.js';
import { KeelError } from '../../../src/errors.js';

// The pre-reboot checks through a fake process edge: what runs, and the reason a node gives for not asking.
function fakeRun(answer: (file: string, args: readonly string[]) => Partial<CommandResult> | Error): RunCommand & { calls: string[] } {
  const calls: string[] = [];
  const run = async (file: string, args: readonly string[]) => {
    calls.push([file, ...args].join(' '));
    const a = answer(file, args);
    if (a instanceof Error) throw a;
    return { exitCode: 0, stdout: '', stderr: '', timedOut: false, ...a };
  };
  return Object.assign(run, { calls });
}

describe('pre-reboot checks', () => {
  test('no checks run nothing and pass', async () => {
    const run = fakeRun(() => ({}));
    expect(await runPreRebootChecks({ units: [] }, run)).toBeUndefined();
    expect(run.calls).toEqual([]);
  });

  test('a command that exits non-zero names its status and last line; the units are not asked', async () => {
    const run = fakeRun(() => ({ exitCode: 3, stdout: 'checking\ndrain not finished\n' }));
    expect(await runPreRebootChecks({ command: 'drained', units: ['web.service'] }, run)).toBe('pre-reboot command "drained" exited 3: drain not finished');
    expect(run.calls).toEqual(['/bin/sh -c drained']);
  });

  test('a command that times out or cannot start says so', async () => {
    expect(await runPreRebootChecks({ command: 'sleep 999', units: [] }, fakeRun(() => ({ exitCode: -1, signal: 'SIGTERM', timedOut: true })))).toBe('pre-reboot command "sleep 999" did not finish within 5 min');
    expect(await runPreRebootChecks({ command: 'x', units: [] }, fakeRun(() => new KeelError('not-found', 'cannot run /bin/sh: ENOENT')))).toBe('pre-reboot command "x" could not start (cannot run /bin/sh: ENOENT)');
  });

  test('units that are not active are listed with their states', async () => {
    const run = fakeRun((file) => (file === 'systemctl' ? { exitCode: 3, stdout: 'active\nfailed\ninactive\n' } : {}));
    expect(await runPreRebootChecks({ command: 'true', units: ['a.service', 'b.service', 'c.socket'] }, run)).toBe('pre-reboot units not active: b.service (failed), c.socket (inactive)');
    expect(run.calls).toEqual(['/bin/sh -c true', 'systemctl is-active -- a.service b.service c.socket']);
  });

  test('all units active pass', async () => {
    expect(await runPreRebootChecks({ units: ['a.service'] }, fakeRun(() => ({ stdout: 'active\n' })))).toBeUndefined();
  });
});
