/**
 * What an image archive holds, read without unpacking: the image names in a docker
 * archive's manifest.json (RepoTags) or an OCI archive's index.json (ref.name annotations).
 * The tar is walked header by header, so a large archive costs a few small reads.
 */
import { open } from 'node:fs/promises';

/** Image references as podman stores them: a registry domain and a tag are always present. */
export function normalizeImageName(name: string): string {
  let ref = name.trim();
  if (!/@sha256:/.test(ref) && !/:[^/]+$/.test(ref)) ref = `${ref}:latest`;
  const first = ref.split('/')[0]!;
  if (!ref.includes('/') || (!first.includes('.') && !first.includes(':') && first !== 'localhost')) {
    ref = `docker.io/${ref.includes('/') ? '' : 'library/'}${ref}`;
  }
  return ref;
}

/** Reads the named members (e.g. manifest.json) of a tar file; other members are skipped. */
export async function readTarMembers(path: string, names: string[], maxBytes = 1 << 20): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  const file = await open(path, 'r');
  try {
    const header = Buffer.alloc(512);
    let offset = 0;
    for (;;) {
      const { bytesRead } = await file.read(header, 0, 512, offset);
      if (bytesRead < 512 || header.every((b) => b === 0)) break;
      const name = header.toString('utf8', 0, 100).replace(/\0.*$/s, '').replace(/^\.\//, '');
      const prefix = header.toString('utf8', 345, 500).replace(/\0.*$/s, '');
      const size = parseInt(header.toString('utf8', 124, 136).replace(/\0.*$/s, '').trim() || '0', 8);
      const full = prefix ? `${prefix}/${name}` : name;
      if (names.includes(full) && size <= maxBytes) {
        const body = Buffer.alloc(size);
        await file.read(body, 0, size, offset + 512);
        found.set(full, body.toString('utf8'));
        if (found.size === names.length) break;
      }
      offset += 512 + Math.ceil(size / 512) * 512;
    }
  } finally {
    await file.close();
  }
  return found;
}

/** The normalized image names an archive provides (empty when it names none). */
export async function imagesInArchive(path: string): Promise<string[]> {
  const members = await readTarMembers(path, ['manifest.json', 'index.json']);
  const names: string[] = [];
  try {
    const manifest = members.get('manifest.json');
    if (manifest) for (const m of JSON.parse(manifest) as { RepoTags?: string[] }[]) names.push(...(m.RepoTags ?? []));
    const index = members.get('index.json');
    if (index)
      for (const m of (JSON.parse(index) as { manifests?: { annotations?: Record<string, string> }[] }).manifests ?? []) {
        const ref = m.annotations?.['io.containerd.image.name'] ?? m.annotations?.['org.opencontainers.image.ref.name'];
        if (ref && /[/:]/.test(ref)) names.push(ref);
      }
  } catch {
    // An archive with unreadable metadata names nothing; podman load reports the real error if it is needed.
  }
  return [...new Set(names.map(normalizeImageName))];
}
