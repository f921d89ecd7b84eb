// The config fuzzer's short fixed-seed run (issue 9): 2,000 generated and mutated configs read,
// validated and planned in-process, a sample of them through ./bin/keel; no crash, no hang, and
// every problem located except whole-file refusals. `make fuzz` runs 100,000.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { beforeAll, expect, test } from 'vitest';
import { configCase } from '../../../fuzz/config-cases.js';
import { formatReport, runConfigFuzz, unlocatedProblems } from '../../../fuzz/config-fuzz.js';

const repo = join(import.meta.dirname, '../../..');

beforeAll(() => {
  const build = spawnSync('node', ['scripts/build.mjs'], { cwd: repo, encoding: 'utf8' });
  expect(build.status, build.stderr).toBe(0);
}, 120_000);

test('2,000 configs (seed 1): 0 crashes, 0 hangs, every problem located', async () => {
  // The hang limit is generous (10 s) so a loaded CI machine does not turn slowness into a failure; speed is measured by make fuzz.
  const report = await runConfigFuzz({ count: 2000, seed: 1, inline: true, cliEvery: 100, hangMs: 10_000, keel: join(repo, 'bin/keel') });
  const summary = formatReport(report);
  expect(report.files, summary).toBe(2000);
  expect(report.crashes, summary).toBe(0);
  expect(report.hangs, summary).toBe(0);
  expect(report.unlocated, summary).toBe(0);
  expect(report.cli, summary).toMatchObject({ files: 20, crashes: 0, hangs: 0, unlocated: 0 });
  // The generator covers what the issue lists, valid configs included.
  for (const label of ['generated', 'type-swap', 'rename', 'deletion', 'duplicate-key', 'tag', 'anchors', 'gzip-content', 'base64-content', 'header', 'bom', 'crlf', 'invalid-utf8', 'deep', 'many-keys', 'multipart'])
    expect(report.labels[label] ?? 0, label).toBeGreaterThan(0);
  expect(report.valid).toBeGreaterThan(100);
}, 300_000);

test('the same seed gives the same files', () => {
  expect(Buffer.from(configCase(7, 42).bytes).equals(Buffer.from(configCase(7, 42).bytes))).toBe(true);
  expect(Buffer.from(configCase(7, 42).bytes).equals(Buffer.from(configCase(8, 42).bytes))).toBe(false);
});

test('whole-file refusals are the only problems allowed at 0:0', () => {
  const at = (message: string, line = 0) => ({ severity: 'error' as const, path: '', line, column: line, message });
  expect(unlocatedProblems([at('the document is 2000000 bytes; expected at most 1048576; refusing to read it'), at('gzipped user-data decompresses to more than 16777216 bytes')])).toEqual([]);
  expect(unlocatedProblems([at('yaml syntax: x'), at('fine', 3)])).toEqual([at('yaml syntax: x')]);
});
