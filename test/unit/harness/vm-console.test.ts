import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { VmConsole, type ConsoleWaitContext } from '../../harness/vm-console.js';

let dir: string;
let running: boolean;
let failures: string[];
let opened: VmConsole[];
const ctx: ConsoleWaitContext = {
  running: () => running,
  stderr: () => 'qemu: boom',
  fail: (why) => {
    failures.push(why);
    return new Error(why);
  },
};

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'keel-console-'));
  running = true;
  failures = [];
  opened = [];
});
afterEach(async () => {
  for (const c of opened) await c.close();
  rmSync(dir, { recursive: true, force: true });
});

function consoleIn(): VmConsole {
  const c = new VmConsole('t', false);
  c.open(join(dir, 'serial.log'));
  c.startRun(Date.now());
  opened.push(c);
  return c;
}

test('markers are taken in order: waiting for the same text twice finds the second line', async () => {
  const c = consoleIn();
  const first = c.waitFor(/UP (\d)/, 5_000, ctx);
  c.feed('UP 1\nnoise\n');
  expect((await first).match[1]).toBe('1');
  const second = c.waitFor(/UP (\d)/, 5_000, ctx);
  c.feed('UP 2\n');
  expect((await second).match[1]).toBe('2');
  expect((await second).line.run).toBe(1);
});

test('a prompt without a newline matches once the output pauses', async () => {
  const c = consoleIn();
  const prompt = c.waitFor(/login: $/, 5_000, ctx);
  c.feed('node1 login: ');
  expect((await prompt).line.text).toBe('node1 login: ');
});

test('after: a prompt printed before the marker taken last is found from the earlier marker on', async () => {
  const c = consoleIn();
  c.feed('config error\nnode1 login: ready\n');
  const error = await c.waitFor(/config error/, 5_000, ctx);
  await c.waitFor(/ready/, 5_000, ctx);
  expect((await c.waitFor(/ login: /, 5_000, ctx, error)).line.text).toBe('node1 login: ready');
});

test('qemu ending before the marker fails naming its stderr; a timeout fails naming the time', async () => {
  const c = consoleIn();
  const ended = c.waitFor(/never/, 5_000, ctx);
  running = false;
  c.ended();
  await expect(ended).rejects.toThrow('did not appear before qemu exited (qemu: boom)');
  running = true;
  await expect(c.waitFor(/never/, 50, ctx)).rejects.toThrow('did not appear within 50 ms');
  expect(failures).toHaveLength(2);
});

test('serial.log holds harness notes and the lines, a last line without newline included', async () => {
  const c = consoleIn();
  c.note('qemu run #1');
  c.feed('hello\npartial');
  c.flush();
  await c.close();
  const log = readFileSync(join(dir, 'serial.log'), 'utf8');
  expect(log).toMatch(/^--- qemu run #1 ---\n/);
  expect(log).toMatch(/\] hello\n/);
  expect(log).toMatch(/\] partial\n$/);
});

test('waitEnded says whether qemu ended within the time', async () => {
  const c = consoleIn();
  const ended = c.waitEnded(5_000);
  c.ended();
  expect(await ended).toBe(true);
  expect(await c.waitEnded(20)).toBe(false);
});
