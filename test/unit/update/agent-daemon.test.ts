import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, test, vi } from 'vitest';
import { runAgent } from '../../../src/update/agent-daemon.js';
import type { AgentEnv } from '../../../src/update/agent-tick.js';
import { createLogger } from '../../../src/log.js';

afterEach(() => {
  vi.useRealTimers();
});

// systemd sends SIGTERM right after `systemctl reboot` returns, usually while the tick that
// called it is still finishing: the agent must stop then, not sleep out its next wait first.
test('a stop that arrives during a tick ends the agent without sleeping out the next wait', async () => {
  const root = await mkdtemp(join(tmpdir(), 'keel-agent-'));
  const stop = new AbortController();
  let healthCalls = 0;
  const log = createLogger({ write: () => true } as unknown as NodeJS.WritableStream, {});
  const env = {
    now: () => 0,
    random: () => 0.5,
    config: { windows: [] },
    log,
    bootFacts: async () => ({ booted: { slot: 'a', version: '1.0.0' }, trial: false }),
    health: async () => {
      healthCalls++;
      stop.abort(); // the stop lands mid-tick; the tick then asks for a 2 s wait
      return undefined;
    },
    report: async () => undefined,
  } as unknown as AgentEnv;
  // Only the agent's wait timers are faked; file I/O and setImmediate stay real.
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  let finished = false;
  const run = runAgent({ env, log, root, signal: stop.signal }).then((state) => {
    finished = true;
    return state;
  });
  // No timer is advanced: the agent must return on its own. Its file I/O takes real time
  // (more on a loaded machine), so give it up to 10 s of wall clock, not a count of turns.
  const deadline = Date.now() + 10_000;
  while (!finished && Date.now() < deadline) await new Promise((resolve) => setImmediate(resolve));
  expect(finished).toBe(true);
  expect((await run).kind).toBe('booted');
  expect(healthCalls).toBe(1);
  await rm(root, { recursive: true, force: true });
});
