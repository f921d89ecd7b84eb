import { expect, test } from 'vitest';
import { entries } from '../../../src/cli/main.js';

// main.ts repeats each group's name and summary so --help need not load the groups;
// this keeps the two from drifting apart.
test.each(entries.map((e) => [e.name, e] as const))('the top-level entry %s matches the command it loads', async (_name, entry) => {
  const loaded = await entry.load();
  expect(loaded.name).toBe(entry.name);
  expect(loaded.summary).toBe(entry.summary);
});
