/**
 * SSH keys as metadata formats give them, flattened to a list: one string (maybe several
 * lines), a list, or a map of name → key (or → list, or → `{ openssh-key }`), as NoCloud
 * meta-data, config-drive's `public_keys` and EC2's listing do.
 */
export function flattenPublicKeys(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (typeof value === 'string') return value.split('\n').map((k) => k.trim()).filter((k) => k && !k.startsWith('#'));
  if (Array.isArray(value)) return value.flatMap(flattenPublicKeys);
  if (typeof value === 'object') {
    const record = value as Record<string, unknown>;
    if ('openssh-key' in record) return flattenPublicKeys(record['openssh-key']);
    return Object.keys(record).sort().flatMap((name) => flattenPublicKeys(record[name]));
  }
  return [];
}
