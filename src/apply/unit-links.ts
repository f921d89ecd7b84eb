/**
 * Enabling and masking on disk: what `systemctl enable` and `mask` do, under a root. The
 * unit's file is found on systemd's search path inside the root (after this apply wrote
 * it), its [Install] section read with the pure unit-file model, and the links made.
 */
import { KeelError } from '../errors.js';
import type { RootFs } from '../host/root-fs.js';
import { installLinks, unitSearchPath } from '../systemd/install-links.js';
import { parseUnitFile } from '../systemd/unit-file.js';
import { templateOf } from '../systemd/unit-name.js';

/** Finds a unit's file (or its template's) on the search path: the in-root path and text. */
export async function findUnitFile(fs: RootFs, unit: string): Promise<{ path: string; text: string } | undefined> {
  for (const name of [unit, templateOf(unit)]) {
    if (!name) continue;
    for (const dir of unitSearchPath) {
      const path = `${dir}/${name}`;
      const entry = await fs.entry(path);
      if (!entry) continue;
      if (entry.type === 'symlink' && entry.target === '/dev/null') throw new KeelError('conflict', `unit ${unit} is masked (${path} -> /dev/null); cannot enable a masked unit; stopping`);
      const text = await fs.read(path);
      if (text !== undefined) return { path, text: text.toString('utf8') };
    }
  }
  return undefined;
}

/**
 * Enables `unit` (and the units its `Also=` names) by creating the [Install] links.
 * Returns the links made and notes (e.g. no [Install] section).
 */
export async function enableUnit(fs: RootFs, unit: string, runtime: boolean): Promise<{ links: string[]; notes: string[] }> {
  const linkDir = runtime ? '/run/systemd/system' : '/etc/systemd/system';
  const links: string[] = [];
  const notes: string[] = [];
  const seen = new Set<string>();
  const queue = [unit];
  while (queue.length > 0) {
    const name = queue.shift()!;
    if (seen.has(name)) continue;
    seen.add(name);
    const found = await findUnitFile(fs, name);
    if (!found) throw new KeelError('not-found', `unit ${name} not found in ${unitSearchPath.join(', ')} under the root; expected a unit file from its content or from the image; stopping`);
    const plan = installLinks(name, found.path, parseUnitFile(found.text), linkDir);
    if (plan.note) notes.push(plan.note);
    for (const link of plan.links) {
      await fs.symlinkAtomic(link.path, link.target);
      links.push(`${link.path} -> ${link.target}`);
    }
    queue.push(...plan.also);
  }
  return { links, notes };
}

/** Masks a unit: its path in /etc (or /run) becomes a link to /dev/null. */
export async function maskUnit(fs: RootFs, path: string): Promise<void> {
  await fs.symlinkAtomic(path, '/dev/null');
}
