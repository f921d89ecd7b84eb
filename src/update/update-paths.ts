import { join } from 'node:path';

/**
 * Where the updater keeps things on a host, under a root directory (`/` on a real host): its
 * state (status.json, progress records, trusted TUF metadata) and the ESP, mounted at /boot.
 */
export interface UpdatePaths {
  stateDir: string;
  esp: string;
}

export function updatePathsOf(root: string): UpdatePaths {
  return { stateDir: join(root, 'var/lib/keel/update'), esp: join(root, 'boot') };
}
