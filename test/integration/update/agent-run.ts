import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { expect } from 'vitest';

/**
 * `./bin/keel update agent` on a host kept as a directory tree (boot-tree.ts), its slots as
 * files under `slots` and its reboot a script in the tree that logs and kills the agent
 * (makeHostTree's `reboot.sh`), with the commands a test drives it by. `where` is read at each
 * call, so a test can build these at load time and make its tree in beforeAll.
 */
export function agentRunner(where: () => { root: string; slots: string }) {
  const keel = join(process.cwd(), 'bin/keel');
  const agent = () => {
    const { root, slots } = where();
    return execa(keel, ['update', 'agent', '--root', root], {
      reject: false,
      env: { KEEL_UPDATE_TEST_EDGES: JSON.stringify({ slotDir: slots, rebootCommand: [join(root, 'reboot.sh')] }), KEEL_DEBUG: '1' },
    });
  };
  const status = async (): Promise<any> => JSON.parse((await execa(keel, ['update', 'status', '--json', '--root', where().root])).stdout);
  const reboots = async (): Promise<number> => (await readFile(join(where().root, 'reboots'), 'utf8').catch(() => '')).split('\n').filter(Boolean).length;
  return {
    keel,
    agent,
    status,
    reboots,
    /** `keel update health-check`'s exit code (0 pass, 1 fail). */
    health: async (): Promise<number> => (await execa(keel, ['update', 'health-check', '--root', where().root, '--no-systemd'], { reject: false })).exitCode ?? -1,
    /** Runs the agent until it reboots (the reboot script kills it); returns its stderr. */
    async runUntilReboot(): Promise<string> {
      const before = await reboots();
      const run = await agent();
      expect(run.signal, run.stderr).toBe('SIGKILL');
      expect(await reboots()).toBe(before + 1);
      return String(run.stderr);
    },
    /** Runs the agent until `done(status)` holds, then stops it (its stderr printed if it never did). */
    async runUntil(done: (s: any) => boolean, timeoutMs = 60_000): Promise<void> {
      const child = agent();
      const end = Date.now() + timeoutMs;
      try {
        while (Date.now() < end) {
          if (done(await status())) return;
          if (child.exitCode !== null) break;
          await new Promise((r) => setTimeout(r, 200));
        }
        throw new Error(`condition not reached; status ${JSON.stringify(await status())}`);
      } finally {
        child.kill('SIGTERM');
        const run = await child;
        if (!done(await status())) console.error(run.stderr);
      }
    },
  };
}
