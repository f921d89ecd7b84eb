/**
 * Where a group's lock lives in etcd. The semaphore key is airlock's, byte for byte, so
 * keel and Fedora CoreOS nodes behind airlock share it; the time each holder took its slot
 * goes in keel's own sibling keys, which airlock never reads, so compatibility holds.
 */
import { KeelError } from '../errors.js';

/** The FleetLock protocol's group pattern, which airlock also enforces. */
export const groupPattern = /^[a-zA-Z0-9.-]+$/;
export const defaultGroup = 'default';

/** Longest group name: a DNS name's limit, as for node ids; etcd keys stay short. */
export const maxGroupLength = 253;

/** Why `group` is not a group name, or undefined when it is one. */
export function groupProblem(group: string): string | undefined {
  const shown = group.length > 80 ? `${JSON.stringify(group.slice(0, 77))}... (${group.length} characters)` : JSON.stringify(group);
  if (!groupPattern.test(group)) return `expected letters, digits, '.' or '-' (${groupPattern.source}), found ${shown}`;
  if (group.length > maxGroupLength) return `expected at most ${maxGroupLength} characters, found ${shown}`;
  // '.' and '..' would be path steps in the etcd key, which tools treat as directories.
  if (group === '.' || group === '..') return `expected a name, found ${shown}, a path step`;
  return undefined;
}

/** Throws 'invalid-input' unless `group` is a FleetLock group name of bounded length. */
export function checkGroup(group: string): string {
  const problem = groupProblem(group);
  if (problem) throw new KeelError('invalid-input', `group: ${problem}`);
  return group;
}

/** Prefix of every group's keys. */
export const groupsPrefix = 'com.coreos.airlock/groups/';

/** The group whose semaphore `key` is, or undefined for any other key. */
export function groupOfSemaphoreKey(key: string): string | undefined {
  const m = /^com\.coreos\.airlock\/groups\/([^/]+)\/v1\/semaphore$/.exec(key);
  return m ? m[1] : undefined;
}

/** `com.coreos.airlock/groups/<group>/v1/semaphore`. */
export function semaphoreKey(group: string): string {
  return `com.coreos.airlock/groups/${checkGroup(group)}/v1/semaphore`;
}

/** Prefix of keel's per-holder keys: `.../v1/keel-holders/`. */
export function holdersPrefix(group: string): string {
  return `com.coreos.airlock/groups/${checkGroup(group)}/v1/keel-holders/`;
}

/** The key recording when `id` took its slot (value: RFC 3339 time). */
export function holderKey(group: string, id: string): string {
  return holdersPrefix(group) + encodeURIComponent(id);
}

/** The holder id from a key under `holdersPrefix`. */
export function holderIdOf(group: string, key: string): string | undefined {
  const prefix = holdersPrefix(group);
  return key.startsWith(prefix) ? decodeURIComponent(key.slice(prefix.length)) : undefined;
}
