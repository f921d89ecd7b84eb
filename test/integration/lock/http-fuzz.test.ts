// A short fixed-seed run of the FleetLock HTTP fuzzer (fuzz/http-fuzz.ts) against
// `./bin/keel lock serve` and a real etcd: no request ends the server, none of the
// client mistakes is answered 5xx, every request that waits gets an answer.
import { expect, test } from 'vitest';
import { existsSync } from 'node:fs';
import { formatReport, runHttpFuzz } from '../../../fuzz/http-fuzz.js';

test('500 fuzzed requests (seed 1): 0 server exits, 0 5xx to client mistakes, 0 hangs', async () => {
  if (!existsSync('bin/keel')) throw new Error('bin/keel missing: run node scripts/build.mjs');
  const report = await runHttpFuzz({ count: 500, seed: 1, concurrency: 8, timeLimitMs: 240_000 });
  const text = formatReport(report);
  expect(report.requests, text).toBe(500);
  expect(report.serverExits, text).toBe(0);
  expect(report.fiveXxOnMistakes, text).toBe(0);
  expect(report.statuses['500'], text).toBeUndefined();
  expect(report.hangs, text).toBe(0);
  expect(report.statuses['closed without answer'], text).toBeUndefined();
  // The run reached the limits it is there to test.
  for (const status of ['200', '400', '404', '405', '408', '409', '413', '429', '431']) expect(report.statuses[status], `${status}\n${text}`).toBeGreaterThan(0);
});
