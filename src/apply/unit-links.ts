/**
 * Enabling and masking on disk: what `systemctl enable` and `mask` do, under a root. The
 * unit's file is found on systemd's search path inside the root (after this apply wrote
 * it), its [Install] section read with the pure unit-file model, and the links made.
 */
import { KeelError } from '../errors.js';
import type { Entry, RootFs } from '../host/root-fs.js';
import { type InstallLink, installLinks, unitSearchPath } from '../systemd/install-links.js';
import { parseUnitFile } from '../systemd/unit-file.js';
import { templateOf } from '../systemd/unit-name.js';

/** What finding unit files reads: the root, or (in the preflight) the root with the plan's files laid over it. */
export interface UnitFileSource {
  entry(path: string): Promise<Entry | undefined>;
  read(path: string): Promise<Buffer | undefined>;
}

/** Finds a unit's file (or its template's) on the search path: the in-root path and text. */
export async function findUnitFile(fs: UnitFileSource, unit: string): Promise<{ path: string; text: string } | undefined> {
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
 * The links that enabling `unit` (and the units its `Also=` names) makes, found without
 * making them, with notes (e.g. no [Install] section). Throws when a unit is not found.
 */
export async function enableLinks(fs: UnitFileSource, unit: string, runtime: boolean): Promise<{ links: InstallLink[]; notes: string[] }> {
  const linkDir = runtime ? '/run/systemd/system' : '/etc/systemd/system';
  const links: InstallLink[] = [];
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
    links.push(...plan.links);
    queue.push(...plan.also);
  }
  return { links, notes };
}

/** Enables `unit` by creating its [Install] links. Returns the links made and notes. */
export async function enableUnit(fs: RootFs, unit: string, runtime: boolean): Promise<{ links: string[]; notes: string[] }> {
  const { links, notes } = await enableLinks(fs, unit, runtime);
  for (const link of links) await fs.symlinkAtomic(link.path, link.target);
  return { links: links.map((l) => `${l.path} -> ${l.target}`), notes };
}

/** Masks a unit: its path in /etc (or /run) becomes a link to /dev/null. */
export async function maskUnit(fs: RootFs, path: string): Promise<void> {
  await fs.symlinkAtomic(path, '/dev/null');
}
