import { describe, expect, test } from 'vitest';
import { KeelError } from '../../../src/errors.js';
import { runCommand } from '../../../src/host/process.js';

describe('runCommand', () => {
  test('returns a non-zero exit with its output instead of throwing', async () => {
    const r = await runCommand('sh', ['-c', 'echo out; echo err >&2; exit 3']);
    expect(r).toEqual({ exitCode: 3, stdout: 'out', stderr: 'err', timedOut: false });
  });

  test('passes input to stdin and adds env to the environment', async () => {
    const r = await runCommand('sh', ['-c', 'cat; printf " $KEEL_PROCESS_TEST"'], { input: 'in', env: { KEEL_PROCESS_TEST: 'yes' } });
    expect(r.stdout).toBe('in yes');
  });

  test('closes stdin when no input is given', async () => {
    expect((await runCommand('cat', [])).stdout).toBe('');
  });

  test('a timeout kills the child and is reported, not thrown', async () => {
    const r = await runCommand('sleep', ['10'], { timeoutMs: 50 });
    expect(r).toMatchObject({ exitCode: -1, timedOut: true, signal: 'SIGTERM' });
  });

  test('a child killed by a signal is a result', async () => {
    expect(await runCommand('sh', ['-c', 'kill -9 $$'])).toMatchObject({ exitCode: -1, signal: 'SIGKILL', timedOut: false });
  });

  test('a missing program throws not-found naming it', async () => {
    const error = await runCommand('/nonexistent/keel-test-program', ['x']).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeelError);
    expect(error).toMatchObject({ kind: 'not-found', message: expect.stringMatching(/^cannot run \/nonexistent\/keel-test-program: .*ENOENT/s) });
  });
});
