/**
 * Makes a container's image present before its unit starts: already in podman's storage,
 * else loaded from an archive in /var/lib/keel/images (air-gapped hosts, and the tests),
 * else pulled from its registry when one answers.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { KeelError } from '../errors.js';
import type { ImageSource } from './plan-executor.js';
import { imagesInArchive, normalizeImageName } from './image-archive.js';
import type { Podman } from './podman.js';

/** Where preloaded archives live, relative to the root. */
export const imageDirectory = 'var/lib/keel/images';

export class ArchiveImageSource implements ImageSource {
  constructor(
    private readonly podman: Podman,
    private readonly directory: string,
    private readonly pull = true,
  ) {}

  /** Archives in the directory and the images each names. */
  async archives(): Promise<{ path: string; images: string[] }[]> {
    let files: string[];
    try {
      files = (await readdir(this.directory)).filter((f) => /\.(tar|tar\.gz|tgz|tar\.zst|oci|docker)$/.test(f)).sort();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    return Promise.all(files.map(async (f) => ({ path: join(this.directory, f), images: await imagesInArchive(join(this.directory, f)) })));
  }

  async ensure(image: string): Promise<'present' | 'loaded' | 'pulled'> {
    if ((await this.podman.run(['image', 'exists', image])).exitCode === 0) return 'present';
    const wanted = normalizeImageName(image);
    const archive = (await this.archives()).find((a) => a.images.includes(wanted));
    if (archive) {
      const r = await this.podman.run(['load', '--quiet', '--input', archive.path]);
      if (r.exitCode !== 0) throw new KeelError('io', `image ${image}: podman load ${archive.path} failed: ${r.stderr.trim()}; its containers are not started`);
      if ((await this.podman.run(['image', 'exists', image])).exitCode === 0) return 'loaded';
      throw new KeelError('not-found', `image ${image}: ${archive.path} was loaded but did not provide it; its containers are not started`);
    }
    if (this.pull) {
      const r = await this.podman.run(['pull', '--quiet', image], 600_000);
      if (r.exitCode === 0) return 'pulled';
      throw new KeelError('not-found', `image ${image}: not in podman's storage, in no archive under ${this.directory}, and the pull failed (${r.stderr.trim().split('\n').pop()}); its containers are not started`);
    }
    throw new KeelError('not-found', `image ${image}: not in podman's storage nor in any archive under ${this.directory}; its containers are not started`);
  }
}
