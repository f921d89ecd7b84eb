import { describe, expect, test } from 'vitest';
import { KeelError } from '../../../src/errors.js';
import { runCommandBytes } from '../../../src/host/process-bytes.js';

describe('runCommandBytes', () => {
  test('keeps stdout as bytes, trailing newline and all, and a non-zero exit is a result', async () => {
    const r = await runCommandBytes('sh', ['-c', 'printf "a\\000b\\377\\n"; echo err >&2; exit 4']);
    expect(r).toEqual({ exitCode: 4, stdout: new Uint8Array([0x61, 0, 0x62, 0xff, 0x0a]), stderr: 'err\n', timedOut: false, overLimit: false });
  });

  test('output over the limit stops the child and is reported, not thrown', async () => {
    // `yes` never ends by itself: only the limit stops it.
    const r = await runCommandBytes('yes', [], { maxOutputBytes: 1000 });
    expect(r.overLimit).toBe(true);
    expect(r.stdout.byteLength).toBeLessThanOrEqual(1000);
  });

  test('output at the limit is whole', async () => {
    const r = await runCommandBytes('head', ['-c', '1000', '/dev/zero'], { maxOutputBytes: 1000 });
    expect(r).toMatchObject({ exitCode: 0, overLimit: false });
    expect(r.stdout.byteLength).toBe(1000);
  });

  test('a missing program throws not-found naming it', async () => {
    const error = await runCommandBytes('/nonexistent/keel-test-program', []).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeelError);
    expect(error).toMatchObject({ kind: 'not-found' });
    expect((error as Error).message).toContain('/nonexistent/keel-test-program');
  });
});
