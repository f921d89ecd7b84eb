import { expect, test } from 'vitest';
import { entries } from '../../../src/cli/main.js';
import { isGroup, isLazy, type Command, type LazyCommand } from '../../../src/cli/command.js';

// A group names its lazy commands (name and summary) so its --help need not load them; every
// such stub must describe the command it loads.
const lazyCommands: [string, LazyCommand][] = [];
for (const entry of entries) {
  const loaded = await entry.load();
  if (isGroup(loaded)) for (const c of loaded.commands) if (isLazy(c)) lazyCommands.push([`${entry.name} ${c.name}`, c]);
}

test('cloud-config plan and apply and lock serve and setup-auth are lazy', () => {
  expect(lazyCommands.map(([n]) => n)).toEqual(expect.arrayContaining(['cloud-config plan', 'cloud-config apply', 'lock serve', 'lock setup-auth']));
});

test.each(lazyCommands)('the lazy command %s matches the command it loads', async (_name, stub) => {
  const command: Command = await stub.load();
  expect(command.name).toBe(stub.name);
  expect(command.summary).toBe(stub.summary);
  expect(typeof command.run).toBe('function');
});
