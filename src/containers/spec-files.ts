/**
 * Reading the spec directory, an edge: every `*.yaml` in /etc/keel/containers under a
 * root, each parsed and validated on its own, so one bad file is reported with its
 * location and does not hide or change the others.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Problem } from '../problem.js';
import type { ContainerSpec } from './spec.js';
import { parseSpec } from './spec-schema.js';

/** Where specs live, relative to the root. */
export const specDirectory = 'etc/keel/containers';

/** One spec file: its container name (the file name), path, spec when valid, and problems. */
export interface SpecFile {
  name: string;
  path: string;
  spec: ContainerSpec | undefined;
  problems: Problem[];
}

/** Reads and validates one spec file. */
export async function readSpecFile(path: string, expectedName?: string): Promise<SpecFile> {
  const base = path.split('/').pop() ?? path;
  const name = expectedName ?? base.replace(/\.ya?ml$/, '');
  const text = await readFile(path, 'utf8');
  const { spec, problems } = parseSpec(text, expectedName);
  return { name: spec?.name ?? name, path, spec, problems };
}

/** Reads every spec under `root`; a missing directory means no containers. */
export async function readSpecDirectory(root: string): Promise<SpecFile[]> {
  const dir = join(root, specDirectory);
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const files = entries.filter((f) => /\.ya?ml$/.test(f) && !f.startsWith('.')).sort();
  return Promise.all(files.map((f) => readSpecFile(join(dir, f), f.replace(/\.ya?ml$/, ''))));
}
