/**
 * Image references, checked against the OCI distribution grammar before one reaches a
 * unit or podman: `[registry[:port]/]path[:tag][@digest]`, with lowercase path components
 * (`a-z0-9` joined by `.`, `_`, `__` or dashes), a tag of `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`
 * and a digest `algorithm:hex` (32 or more hex digits). The first component is a registry
 * when it has a `.` or a `:`, is `localhost`, or has an upper-case letter, as podman and
 * Docker decide it.
 */

export interface ImageReference {
  registry?: string;
  path: string;
  tag?: string;
  digest?: string;
}

export type ReferenceResult = { ok: true; reference: ImageReference } | { ok: false; reason: string };

const pathComponent = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const tagPattern = /^\w[\w.-]{0,127}$/;
const digestPattern = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;
const hostLabel = /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$/;
/** Repository names longer than this are refused by registries. */
const maxNameLength = 255;

function registryProblem(registry: string): string | undefined {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[^:]+)(?::(\d+))?$/.exec(registry);
  if (!m) return `the registry ${JSON.stringify(registry)} is not HOST or HOST:PORT`;
  const host = m[1]!;
  if (!host.startsWith('[') && !host.split('.').every((l) => hostLabel.test(l))) return `the registry host ${JSON.stringify(host)} is not a host name`;
  return undefined;
}

function isRegistry(first: string): boolean {
  return first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase();
}

/** Reads an image reference, or says which part of the grammar it breaks. */
export function parseImageReference(text: string): ReferenceResult {
  const bad = (reason: string): ReferenceResult => ({ ok: false, reason });
  if (/[\x00-\x1f\x7f]/.test(text)) return bad('it contains a control character');
  if (/\s/.test(text)) return bad('it contains white space');
  if (text === '') return bad('it is empty');
  const at = text.indexOf('@');
  const digest = at >= 0 ? text.slice(at + 1) : undefined;
  if (digest !== undefined && !digestPattern.test(digest)) return bad(`the digest ${JSON.stringify(digest)} is not ALGORITHM:HEX with at least 32 hex digits`);
  let name = at >= 0 ? text.slice(0, at) : text;
  const colon = name.lastIndexOf(':');
  let tag: string | undefined;
  if (colon > name.lastIndexOf('/')) {
    tag = name.slice(colon + 1);
    name = name.slice(0, colon);
    if (!tagPattern.test(tag)) return bad(`the tag ${JSON.stringify(tag)} is not 1-128 letters, digits, _, . and - (not starting with . or -)`);
  }
  if (name.length > maxNameLength) return bad(`the name is ${name.length} characters long; at most ${maxNameLength}`);
  const parts = name.split('/');
  const registry = parts.length > 1 && isRegistry(parts[0]!) ? parts.shift() : undefined;
  const regProblem = registry !== undefined ? registryProblem(registry) : undefined;
  if (regProblem) return bad(regProblem);
  for (const part of parts) {
    if (pathComponent.test(part)) continue;
    if (pathComponent.test(part.toLowerCase())) return bad(`the path component ${JSON.stringify(part)} has upper-case letters; repository paths are lowercase`);
    return bad(`the path component ${JSON.stringify(part)} is not lowercase letters and digits joined by ., _, __ or -`);
  }
  return { ok: true, reference: { ...(registry ? { registry } : {}), path: parts.join('/'), ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) } };
}
