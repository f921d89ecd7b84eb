import { expect, test } from 'vitest';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { hostEnv } from '../../../src/update/agent-host.js';
import { installEntry, listEntries } from '../../../src/update/esp.js';
import { checkForRelease } from '../../../src/update/release-installer.js';
import { updateConfigOf } from '../../../src/update/update-config.js';
import { createLogger } from '../../../src/log.js';
import { makeKey, publish, tempDir } from './fixture.js';

// A slot that fails verification holds unverified bytes (a block device cannot be
// "discarded"): the agent must leave nothing that boots it. It removes the slot's boot
// entries before the first byte is written, and adds one only after verification.
test('a tampered download into the other slot leaves no boot entry pointing at that slot', async () => {
  const work = await tempDir();
  const key = makeKey();
  const repo = join(work, 'repo');
  await publish(repo, work, key.signer, '2.0.0');
  const slotFile = join(repo, 'targets/stable/2.0.0/root.img');
  const bytes = await readFile(slotFile);
  bytes[10] = bytes[10]! ^ 1;
  await writeFile(slotFile, bytes);
  const root = join(work, 'root');
  const esp = join(root, 'boot');
  await mkdir(join(root, 'var/lib/keel/update'), { recursive: true });
  const boot = { options: 'keel.slot=b', kernel: Buffer.from('k'), initramfs: Buffer.from('i'), tries: 0 };
  await installEntry(esp, { ...boot, version: '1.0.0', slot: 'a', options: 'keel.slot=a' });
  await installEntry(esp, { ...boot, version: '0.9.0', slot: 'b' }); // the previous release, still bootable
  expect((await listEntries(esp)).map((e) => e.slot).sort()).toEqual(['a', 'b']);

  const quiet = new Writable({ write: (_c, _e, done) => done() });
  const env = hostEnv({ root, config: updateConfigOf({ SERVER: repo }), log: createLogger(quiet), slotTarget: (slot) => join(work, `slot-${slot}.img`) });
  const choice = await checkForRelease({ repo, trustPem: key.publicPem, stateDir: join(work, 'state'), channel: 'stable', nowMs: Date.now() });
  expect(choice.kind).toBe('install');
  if (choice.kind !== 'install') return;
  await expect(env.download({ slot: 'a', version: '1.0.0' }, choice.release)).rejects.toThrow(/does not match the signed .*\(tampered\)/);
  const entries = await listEntries(esp);
  expect(entries.filter((e) => e.slot === 'b')).toEqual([]);
  expect(entries.map((e) => e.version)).toEqual(['1.0.0']);
});
