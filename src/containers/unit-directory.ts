/**
 * The directory the supervisor writes units to: /run/systemd/system under the root.
 * Generated units are derived state (the specs in /etc/keel/containers are the truth), so
 * they live in /run: a unit whose spec was removed while the supervisor was down cannot
 * outlive a reboot, and an administrator's unit of the same name in /etc/systemd/system
 * still wins (systemd reads /etc before /run). Writes go through the host's crash-safe write.
 */
import { mkdir, readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileCrashSafe } from '../host/crash-safe-write.js';
import type { UnitFiles } from './plan-executor.js';
import { containerNameOf } from './unit-from-spec.js';

export const unitDirectory = 'run/systemd/system';

export class UnitDirectory implements UnitFiles {
  readonly path: string;
  constructor(root: string) {
    this.path = join(root, unitDirectory);
  }

  async write(unit: string, text: string): Promise<void> {
    await mkdir(this.path, { recursive: true });
    await writeFileCrashSafe(join(this.path, unit), Buffer.from(text), { mode: 0o644 });
  }

  async remove(unit: string): Promise<void> {
    await rm(join(this.path, unit), { force: true });
  }

  /** The keel units there, container name → file text. */
  async read(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    let files: string[];
    try {
      files = await readdir(this.path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return out;
      throw error;
    }
    for (const f of files.sort()) {
      const name = containerNameOf(f);
      if (name !== undefined) out.set(name, await readFile(join(this.path, f), 'utf8'));
    }
    return out;
  }
}
