/**
 * Where a group's fleet records live in etcd: `/keel/fleet/<group>/nodes/<machine-id>`
 * (bound to the node's lease), `/keel/fleet/<group>/lost/<machine-id>` (the same record on a
 * 24 h lease, so a dead node stays visible for a day), `/keel/fleet/<group>/attention/<machine-id>`
 * (the same record again, on the node's lease, while the node is failed or rebooting:
 * node-attention.ts), `/keel/fleet/<group>/rollouts/<version>`
 * (the rollout's failures and halt) and one marker key a node below it,
 * `rollouts/<version>/started/<machine-id>` and `.../succeeded/<machine-id>`.
 * Group names are the lock's (FleetLock's pattern); machine ids and versions are checked
 * here so a key never gains a path step or a separator from a hostile value.
 */
import { KeelError } from '../errors.js';
import { checkGroup } from '../lock/group-keys.js';

/** Machine ids: systemd's are 32 hex digits; tests and other systems use names. */
const machineIdPattern = /^[A-Za-z0-9._-]{1,253}$/;
/** Release versions: semver-ish and date-ish forms, with build metadata. */
const versionPattern = /^[A-Za-z0-9._+~-]{1,128}$/;

function shown(text: string): string {
  return text.length > 80 ? `${JSON.stringify(text.slice(0, 77))}... (${text.length} characters)` : JSON.stringify(text);
}

/** Why `id` is not a machine id, or undefined when it is one. */
export function machineIdProblem(id: string): string | undefined {
  if (!machineIdPattern.test(id)) return `expected 1 to 253 letters, digits, '.', '_' or '-', found ${shown(id)}`;
  if (id === '.' || id === '..') return `expected a name, found ${shown(id)}, a path step`;
  return undefined;
}

/** Why `version` cannot name a rollout, or undefined when it can. */
export function versionProblem(version: string): string | undefined {
  if (!versionPattern.test(version)) return `expected 1 to 128 letters, digits, '.', '_', '+', '~' or '-', found ${shown(version)}`;
  if (version === '.' || version === '..') return `expected a version, found ${shown(version)}, a path step`;
  return undefined;
}

/** Throws 'invalid-input' unless `id` is a machine id. */
export function checkMachineId(id: string): string {
  const problem = machineIdProblem(id);
  if (problem) throw new KeelError('invalid-input', `machine id: ${problem}`);
  return id;
}

/** Throws 'invalid-input' unless `version` can name a rollout. */
export function checkVersion(version: string): string {
  const problem = versionProblem(version);
  if (problem) throw new KeelError('invalid-input', `version: ${problem}`);
  return version;
}

/** `/keel/fleet/<group>/`: everything of one group, for a status read or a watch. */
export function fleetPrefix(group: string): string {
  return `/keel/fleet/${checkGroup(group)}/`;
}

export function nodesPrefix(group: string): string {
  return `${fleetPrefix(group)}nodes/`;
}

export function lostPrefix(group: string): string {
  return `${fleetPrefix(group)}lost/`;
}

export function attentionPrefix(group: string): string {
  return `${fleetPrefix(group)}attention/`;
}

export function rolloutsPrefix(group: string): string {
  return `${fleetPrefix(group)}rollouts/`;
}

export function nodeKey(group: string, machineId: string): string {
  return nodesPrefix(group) + checkMachineId(machineId);
}

export function lostKey(group: string, machineId: string): string {
  return lostPrefix(group) + checkMachineId(machineId);
}

export function attentionKey(group: string, machineId: string): string {
  return attentionPrefix(group) + checkMachineId(machineId);
}

export function rolloutKey(group: string, version: string): string {
  return rolloutsPrefix(group) + checkVersion(version);
}

/** The two per-node marks of a rollout: a node took a slot for it, a node passed its health gate on it. */
export type RolloutMark = 'started' | 'succeeded';

/** Prefix of a rollout's marker keys: `rollouts/<version>/`. */
export function rolloutMarksPrefix(group: string, version: string): string {
  return `${rolloutKey(group, version)}/`;
}

/** `rollouts/<version>/<mark>/<machine-id>`: its value is the time of the mark. */
export function rolloutMarkKey(group: string, version: string, mark: RolloutMark, machineId: string): string {
  return `${rolloutMarksPrefix(group, version)}${mark}/${checkMachineId(machineId)}`;
}

/** What a key under `fleetPrefix(group)` is, or undefined for anything else (a stray key). */
export type FleetKey =
  | { kind: 'node' | 'lost' | 'attention'; machineId: string }
  | { kind: 'rollout'; version: string }
  | { kind: 'mark'; version: string; mark: RolloutMark; machineId: string };

export function parseFleetKey(group: string, key: string): FleetKey | undefined {
  const prefix = fleetPrefix(group);
  if (!key.startsWith(prefix)) return undefined;
  const [kind, name, ...rest] = key.slice(prefix.length).split('/');
  if (name === undefined) return undefined;
  if (kind === 'rollouts' && rest.length === 2 && !versionProblem(name) && (rest[0] === 'started' || rest[0] === 'succeeded') && !machineIdProblem(rest[1]!))
    return { kind: 'mark', version: name, mark: rest[0], machineId: rest[1]! };
  if (rest.length > 0) return undefined;
  const nodeKinds = { nodes: 'node', lost: 'lost', attention: 'attention' } as const;
  if ((kind === 'nodes' || kind === 'lost' || kind === 'attention') && !machineIdProblem(name)) return { kind: nodeKinds[kind], machineId: name };
  if (kind === 'rollouts' && !versionProblem(name)) return { kind: 'rollout', version: name };
  return undefined;
}
