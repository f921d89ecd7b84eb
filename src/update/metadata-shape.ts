import { Metadata, MetadataKind, type Root, type Snapshot, type Targets, type Timestamp } from '@tufjs/models';
import { describeJson, isJsonObject, parseJsonObject, shapeError, type JsonSource } from './json-shape.js';

/**
 * The shape of TUF metadata checked before tuf-js's models read it: the models destructure
 * nested objects without looking, so `null` where an object belongs surfaced as "Cannot
 * destructure property 'signed' of 'data' as it is null". This names the file and the field.
 */
export type TufRole = 'root' | 'timestamp' | 'snapshot' | 'targets';
type RoleSigned = { root: Root; timestamp: Timestamp; snapshot: Snapshot; targets: Targets };

/** A field of the wrong shape: where, what belongs there, what is there. */
export interface ShapeProblem {
  at: string;
  expected: string;
  found: unknown;
}

/** Maps of objects each role carries under `signed`. */
const objectMaps: Record<TufRole, string[]> = { root: ['keys', 'roles'], timestamp: ['meta'], snapshot: ['meta'], targets: ['targets'] };

/** The first shape problem of a parsed TUF document of `role`, or undefined. */
export function tufShapeProblem(doc: Record<string, unknown>, role: TufRole): ShapeProblem | undefined {
  const signed = doc.signed;
  if (!isJsonObject(signed)) return { at: 'signed', expected: 'an object', found: signed };
  if (signed._type !== role) return { at: 'signed._type', expected: JSON.stringify(role), found: signed._type };
  const signatures = doc.signatures;
  if (!Array.isArray(signatures)) return { at: 'signatures', expected: 'a list of signatures', found: signatures };
  const badSignature = signatures.findIndex((s) => !isJsonObject(s));
  if (badSignature >= 0) return { at: `signatures[${badSignature}]`, expected: 'an object with "keyid" and "sig"', found: signatures[badSignature] };
  for (const field of objectMaps[role]) {
    const problem = mapOfObjectsProblem(signed[field], `signed.${field}`);
    if (problem) return problem;
  }
  for (const field of ['meta', 'targets']) {
    const map = signed[field];
    if (!isJsonObject(map)) continue;
    for (const [name, file] of Object.entries(map)) {
      const { hashes, custom } = file as Record<string, unknown>;
      if (hashes !== undefined && !isJsonObject(hashes)) return { at: `signed.${field}["${name}"].hashes`, expected: 'an object of hashes', found: hashes };
      if (custom !== undefined && !isJsonObject(custom)) return { at: `signed.${field}["${name}"].custom`, expected: 'an object', found: custom };
    }
  }
  if (role === 'targets' && signed.delegations !== undefined) return delegationsProblem(signed.delegations);
  return undefined;
}

function mapOfObjectsProblem(map: unknown, at: string): ShapeProblem | undefined {
  if (!isJsonObject(map)) return { at, expected: 'an object', found: map };
  for (const [name, value] of Object.entries(map)) if (!isJsonObject(value)) return { at: `${at}["${name}"]`, expected: 'an object', found: value };
  return undefined;
}

function delegationsProblem(delegations: unknown): ShapeProblem | undefined {
  if (!isJsonObject(delegations)) return { at: 'signed.delegations', expected: 'an object', found: delegations };
  const keys = mapOfObjectsProblem(delegations.keys, 'signed.delegations.keys');
  if (keys) return keys;
  const roles = delegations.roles;
  if (roles === undefined) return undefined;
  if (!Array.isArray(roles)) return { at: 'signed.delegations.roles', expected: 'a list', found: roles };
  const bad = roles.findIndex((r) => !isJsonObject(r));
  return bad >= 0 ? { at: `signed.delegations.roles[${bad}]`, expected: 'an object', found: roles[bad] } : undefined;
}

/** The `expected` phrase for a whole TUF document. */
export function tufExpected(role: TufRole): string {
  return `TUF ${role} metadata (a JSON object with "signed" and "signatures")`;
}

/** Parses TUF metadata of `role`, refusing any wrong shape with a message naming the source and field. */
export function parseTufMetadata<R extends TufRole>(text: string, role: R, source: Omit<JsonSource, 'expected'>): Metadata<RoleSigned[R]> {
  const whole = { ...source, expected: tufExpected(role) };
  const doc = parseJsonObject(text, whole);
  const problem = tufShapeProblem(doc, role);
  if (problem) throw shapeError({ ...source, label: `${source.label}: ${problem.at}`, expected: problem.expected }, describeJson(problem.found));
  try {
    return (Metadata.fromJSON as (kind: MetadataKind, data: unknown) => unknown)(role as MetadataKind, doc) as Metadata<RoleSigned[R]>;
  } catch (error) {
    // The models' own checks say which field ("version must be a number"): plain text, kept.
    throw shapeError(whole, `a malformed document (${(error as Error).message})`, error);
  }
}
