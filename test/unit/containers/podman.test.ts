import { describe, expect, test } from 'vitest';
import { KeelError } from '../../../src/errors.js';
import { Podman } from '../../../src/containers/podman.js';
import type { CommandOptions, CommandResult, RunCommand } from '../../../src/host/process.js';

/** A process edge that records each call and answers with `result`. */
function fakeProcess(result: CommandResult | Error) {
  const calls: { file: string; args: readonly string[]; options?: CommandOptions }[] = [];
  const run: RunCommand = async (file, args, options) => {
    calls.push({ file, args, options });
    if (result instanceof Error) throw result;
    return result;
  };
  return { calls, run };
}

describe('Podman', () => {
  test('puts the global flags before the subcommand and passes the timeout', async () => {
    const p = fakeProcess({ exitCode: 1, stdout: 'o', stderr: 'e', timedOut: false });
    const r = await new Podman('/bin/podman', ['--root', '/s'], p.run).run(['image', 'exists', 'x'], 5000);
    expect(p.calls).toEqual([{ file: '/bin/podman', args: ['--root', '/s', 'image', 'exists', 'x'], options: { timeoutMs: 5000 } }]);
    expect(r).toEqual({ exitCode: 1, stdout: 'o', stderr: 'e', timedOut: false });
  });

  test('a timeout is a result', async () => {
    const p = fakeProcess({ exitCode: -1, signal: 'SIGTERM', stdout: '', stderr: '', timedOut: true });
    expect(await new Podman('/bin/podman', [], p.run).run(['pull', 'x'])).toEqual({ exitCode: -1, stdout: '', stderr: '', timedOut: true });
    expect(p.calls[0]!.options).toEqual({ timeoutMs: 120_000 });
  });

  test('a podman that cannot start throws, named', async () => {
    const p = fakeProcess(new KeelError('not-found', 'cannot run /bin/podman: spawn /bin/podman ENOENT'));
    await expect(new Podman('/bin/podman', [], p.run).run(['ps'])).rejects.toThrow('podman: cannot run /bin/podman: spawn /bin/podman ENOENT');
  });

  test('a podman killed by a signal throws', async () => {
    const p = fakeProcess({ exitCode: -1, signal: 'SIGKILL', stdout: '', stderr: '', timedOut: false });
    await expect(new Podman('/bin/podman', [], p.run).run(['ps'])).rejects.toThrow('podman: cannot run /bin/podman: killed by SIGKILL');
  });
});
