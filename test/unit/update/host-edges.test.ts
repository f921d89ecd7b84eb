import { afterEach, describe, expect, test } from 'vitest';
import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { agentCommands, testEdgesVariable } from '../../../src/cli/update-agent.js';
import { KeelError } from '../../../src/errors.js';
import type { CommandOptions, CommandResult, RunCommand } from '../../../src/host/process.js';
import { createLogger } from '../../../src/log.js';
import { hostEnv } from '../../../src/update/agent-host.js';
import { runHealthGate } from '../../../src/update/health-gate.js';
import { readNodeState, writeNodeState } from '../../../src/update/node-state.js';
import { readRecords } from '../../../src/update/progress-record.js';
import { commandRebooter, systemctlReboot } from '../../../src/update/rebooter.js';
import type { Release } from '../../../src/update/release.js';
import { slotFilesIn, slotPartitions } from '../../../src/update/slot-devices.js';
import { stageRelease } from '../../../src/update/stage-release.js';
import { updateConfigOf } from '../../../src/update/update-config.js';
import { tempDir } from './fixture.js';

// The update part's edges handed in as fakes: the process edge (reboot, health gate), the
// slots and the reboot of the agent's host env, and the one staging step's refusals.
type Call = { file: string; args: readonly string[]; options?: CommandOptions };

function fakeRun(answer: (call: Call) => Partial<CommandResult> | Error): RunCommand & { calls: Call[] } {
  const calls: Call[] = [];
  const run = async (file: string, args: readonly string[], options?: CommandOptions) => {
    const call = { file, args, ...(options && { options }) };
    calls.push(call);
    const a = answer(call);
    if (a instanceof Error) throw a;
    return { exitCode: 0, stdout: '', stderr: '', timedOut: false, ...a };
  };
  return Object.assign(run, { calls });
}

const quiet = createLogger(new Writable({ write: (_c, _e, done) => done() }));

describe('rebooter', () => {
  test('a real host reboots with systemctl reboot through the process edge', async () => {
    const run = fakeRun(() => ({}));
    await systemctlReboot(run)();
    expect(run.calls).toEqual([{ file: 'systemctl', args: ['reboot'] }]);
  });

  test.each([
    [{ exitCode: 1, stderr: 'Failed to reboot: Access denied\n' }, /^systemctl reboot exited 1: Failed to reboot: Access denied; still running the old release$/],
    [{ exitCode: -1, signal: 'SIGKILL' }, /^systemctl reboot ended by SIGKILL; still running the old release$/],
  ])('a reboot that fails (%j) is an io error the agent retries', async (result, message) => {
    const error = await systemctlReboot(fakeRun(() => result))().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeelError);
    expect((error as KeelError).kind).toBe('io');
    expect((error as Error).message).toMatch(message);
  });

  test('an empty reboot command is refused when it is made, not at reboot time', () => {
    expect(() => commandRebooter([])).toThrow(/the reboot command is empty/);
  });
});

describe('slot devices', () => {
  test('a real host writes the partitions by label; a test host files in a directory', () => {
    expect(slotPartitions('b')).toBe('/dev/disk/by-partlabel/keel-root-b');
    expect(slotFilesIn('/t/slots')('a')).toBe('/t/slots/slot-a.img');
  });
});

describe('health gate through the process edge', () => {
  test('failed units come from systemctl, less the ignored ones', async () => {
    const root = await tempDir();
    const run = fakeRun(() => ({ stdout: 'keel-health-check.service loaded failed failed x\nbroken.service loaded failed failed y\n' }));
    const verdict = await runHealthGate(root, { systemd: true, ignoreUnits: ['keel-health-check.service'], run });
    expect(run.calls[0]).toEqual({ file: 'systemctl', args: ['list-units', '--state=failed', '--no-legend', '--plain', '--no-pager'] });
    expect(verdict.ok).toBe(false);
    expect(verdict.checks).toEqual([{ name: 'no failed units', ok: false, detail: 'failed: broken.service' }]);
  });

  test('systemctl that cannot be started fails the check with the reason, not an empty detail', async () => {
    const root = await tempDir();
    const run = fakeRun(() => new KeelError('not-found', 'cannot run systemctl: spawn systemctl ENOENT'));
    const verdict = await runHealthGate(root, { systemd: true, run });
    expect(verdict.checks).toEqual([{ name: 'no failed units', ok: false, detail: 'cannot run systemctl: spawn systemctl ENOENT' }]);
  });

  test('a check in health.d runs with the timeout; its exit, last lines and a timeout are reported', async () => {
    const root = await tempDir();
    await mkdir(join(root, 'etc/keel/health.d'), { recursive: true });
    for (const name of ['10-ok', '20-fails', '30-hangs']) {
      await writeFile(join(root, 'etc/keel/health.d', name), '#!/bin/sh\n');
      await chmod(join(root, 'etc/keel/health.d', name), 0o755);
    }
    const run = fakeRun(({ file }) => {
      if (file.endsWith('10-ok')) return { stdout: 'fine\n' };
      if (file.endsWith('20-fails')) return { exitCode: 3, stdout: 'a\nb\n', stderr: 'c\nd\n' };
      return { exitCode: -1, signal: 'SIGTERM', timedOut: true };
    });
    const verdict = await runHealthGate(root, { systemd: false, timeoutMs: 5000, run });
    expect(run.calls.map((c) => c.options)).toEqual([{ timeoutMs: 5000 }, { timeoutMs: 5000 }, { timeoutMs: 5000 }]);
    expect(verdict.checks).toEqual([
      { name: '10-ok', ok: true, detail: 'exit 0: fine' },
      { name: '20-fails', ok: false, detail: 'exit 3: b | c | d' },
      { name: '30-hangs', ok: false, detail: 'timed out after 5000 ms' },
    ]);
  });
});

describe('the agent host with its edges handed in', () => {
  test('reboot records the version it reboots into, then calls the rebooter it was given', async () => {
    const root = await tempDir();
    const stateDir = join(root, 'var/lib/keel/update');
    const staged: Release = { version: '2.0.0', channel: 'stable', slot: { path: 'stable/2.0.0/root.img', length: 1, sha256: 'x' } };
    await writeNodeState(stateDir, { failedVersions: [], staged } as never);
    const seen: string[] = [];
    const env = hostEnv({
      root,
      config: updateConfigOf({}),
      log: quiet,
      rebooter: async () => {
        seen.push(((await readNodeState(stateDir)) as { rebootingTo?: string }).rebootingTo ?? 'none');
      },
    });
    await env.reboot('update to 2.0.0');
    expect(seen).toEqual(['2.0.0']);
  });
});

describe('stage-release', () => {
  test('a release without a kernel is refused before the slot or a record is written', async () => {
    const work = await tempDir();
    const release: Release = { version: '2.0.0', channel: 'stable', slot: { path: 'stable/2.0.0/root.img', length: 3, sha256: 'x' } };
    const request = { repo: join(work, 'no-repo'), target: join(work, 'slot-b.img'), stateDir: join(work, 'state'), nowMs: 0 };
    const boot = { esp: join(work, 'boot'), slot: 'b' as const, options: 'keel.slot=b', tries: 3 };
    const error = await stageRelease({ ...request, boot }, release).catch((e: unknown) => e);
    expect((error as KeelError).kind).toBe('verification');
    expect((error as Error).message).toBe('release 2.0.0 has no kernel or initramfs target; cannot make it bootable');
    expect(await readdir(work)).toEqual([]);
    expect(await readRecords(request.stateDir)).toEqual([]);
  });

  test('without boot staging (keel update install) a release needs no kernel', async () => {
    const work = await tempDir();
    const release: Release = { version: '2.0.0', channel: 'stable', slot: { path: 'root.img', length: 3, sha256: 'x' } };
    await mkdir(join(work, 'repo/targets'), { recursive: true });
    await writeFile(join(work, 'repo/targets/root.img'), 'abc');
    // The bytes do not match the signed hash: the write is refused after streaming, so the
    // kernel check was not what stopped it.
    const error = await stageRelease({ repo: join(work, 'repo'), target: join(work, 'slot.img'), stateDir: join(work, 'state'), nowMs: 0, allowWithoutVerity: true }, release).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/does not match the signed x \(tampered\); discarded what was written, nothing installed$/);
    await expect(readFile(join(work, 'slot.img'))).rejects.toThrow(/ENOENT/);
  });
});

describe('the spawned-binary seam', () => {
  afterEach(() => {
    delete process.env[testEdgesVariable];
  });

  test.each(['not json', '[]', '{"slotDir": 3}', '{"rebootCommand": []}', '{"rebootCommand": "reboot.sh"}'])('%s is a usage error naming the variable', async (value) => {
    process.env[testEdgesVariable] = value;
    const root = await tempDir();
    const check = agentCommands.find((c) => c.name === 'check')!;
    const sink = new Writable({ write: (_c, _e, done) => done() });
    const error = await check.run({ values: { root }, positionals: [], json: false, stdout: sink, stderr: sink }).catch((e: unknown) => e);
    expect((error as KeelError).kind).toBe('usage');
    expect((error as Error).message).toBe('KEEL_UPDATE_TEST_EDGES: expected a JSON object {"slotDir": DIR, "rebootCommand": [PROGRAM, ARG…]}; unset it on a real host');
  });
});
