/** A throwaway root with a minimal Debian-like /etc for applier tests, and a Host over it. */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Host } from '../../../src/apply/host.js';
import { Accounts } from '../../../src/host/accounts.js';
import { RootFs } from '../../../src/host/root-fs.js';
import type { UnitManager } from '../../../src/host/unit-manager.js';
import type { Logger } from '../../../src/log.js';

export const fixedNow = new Date('2024-05-01T12:00:00Z');

export const quietLog: Logger = { error() {}, warning() {}, notice() {}, info() {}, debug() {} };

/** Makes `<base>/root` with passwd/group/shadow/gshadow, /etc/skel and a sudo group. */
export async function makeRoot(prefix = 'keel-apply-'): Promise<{ base: string; root: string; cleanup: () => Promise<void> }> {
  const base = await mkdtemp(join(tmpdir(), prefix));
  const root = join(base, 'root');
  await mkdir(join(root, 'etc/skel'), { recursive: true });
  await writeFile(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/bash\n');
  await writeFile(join(root, 'etc/shadow'), 'root:*:19000:0:99999:7:::\n', { mode: 0o640 });
  await writeFile(join(root, 'etc/group'), 'root:x:0:\nsudo:x:27:\nshadow:x:42:\n');
  await writeFile(join(root, 'etc/gshadow'), 'root:*::\nsudo:*::\nshadow:*::\n', { mode: 0o640 });
  await writeFile(join(root, 'etc/skel/.profile'), '# profile\n');
  return { base, root, cleanup: () => rm(base, { recursive: true, force: true }) };
}

export function hostFor(root: string, units?: UnitManager): Host {
  const fs = new RootFs(root);
  return { fs, accounts: new Accounts(fs, 19844), ...(units ? { units } : {}), log: quietLog, now: fixedNow, runId: 'run1' };
}
