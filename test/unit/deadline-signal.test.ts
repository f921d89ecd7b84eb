// deadlineSignal against node's own collector, which takes an AbortSignal.timeout held only
// by AbortSignal.any before it fires (nodejs/node#57736; node 20 here).
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, test } from 'vitest';
import { deadlineSignal } from '../../src/deadline-signal.js';

setFlagsFromString('--expose_gc');
const gc = runInNewContext('gc') as () => void;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('deadline signal', () => {
  test('aborts at its time though the collector runs while it waits, alone or beside another signal', async () => {
    const alone = deadlineSignal(20);
    const beside = deadlineSignal(20, new AbortController().signal);
    gc();
    await sleep(5);
    gc();
    await sleep(60);
    expect(alone.signal.aborted).toBe(true);
    expect(beside.signal.aborted).toBe(true);
    expect((beside.signal.reason as DOMException).name).toBe('TimeoutError');
  });

  test('the other signal ends it first, with its reason; cleared, it never aborts', async () => {
    const stop = new AbortController();
    const early = deadlineSignal(60_000, stop.signal);
    stop.abort(new Error('agent stopping'));
    expect((early.signal.reason as Error).message).toBe('agent stopping');
    early.clear();
    const cleared = deadlineSignal(10);
    cleared.clear();
    await sleep(40);
    expect(cleared.signal.aborted).toBe(false);
  });

});
