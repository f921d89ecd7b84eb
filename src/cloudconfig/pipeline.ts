/**
 * User-data bytes and metadata to a plan, the path the CLI and first boot share:
 * gunzip and header (MIME multipart: its parts, merged) → `$public_ipv4`… substitution →
 * validation → plan. Nothing here
 * touches the host; an invalid config comes back as located problems, never as a plan.
 */
import type { Problem } from '../problem.js';
import { hasErrors } from '../problem.js';
import { instanceIdProblem, type Metadata } from './metadata.js';
import { localInstanceId, userDataSha256 } from './user-data-digest.js';
import { type Plan, type PlanInput, planCloudConfig } from './plan.js';
import { substituteMetadata } from './substitute.js';
import { validateMultipart } from './multipart-config.js';
import { readUserData, UserDataError } from './user-data.js';
import { validateCloudConfig } from './validate.js';

export interface PipelineInput {
  userData: Uint8Array;
  metadata: Metadata;
  /** A live host: commands run during apply rather than being installed for boot. */
  live: boolean;
}

export type PipelineResult =
  /** `warnings` are the validator's warnings (unknown keys...), worth printing. */
  | { ok: true; plan: Plan; warnings: Problem[] }
  | { ok: false; problems: Problem[] };

/** The instance id: the datasource's, or one derived from the user-data (`iid-local-…`). */
export function instanceIdOf(userData: Uint8Array, metadata: Metadata): string {
  return metadata.instanceId && metadata.instanceId !== '' ? metadata.instanceId : localInstanceId(userData);
}

/**
 * Plans user-data. Returns problems for undecodable or invalid user-data and for an
 * unusable instance id; throws
 * KeelError 'conflict' when the config is valid but contradicts itself.
 */
export function planUserData(input: PipelineInput): PipelineResult {
  let userData;
  try {
    userData = readUserData(input.userData);
  } catch (error) {
    if (error instanceof UserDataError) return { ok: false, problems: [error.toProblem()] };
    throw error;
  }
  // Metadata from a caller other than a datasource reader is checked here too.
  const idProblem = input.metadata.instanceId ? instanceIdProblem(input.metadata.instanceId) : undefined;
  if (idProblem) return { ok: false, problems: [{ severity: 'error', path: 'instance-id', line: 0, column: 0, message: `${idProblem}; refusing to plan` }] };
  const base = { metadata: input.metadata, instanceId: instanceIdOf(input.userData, input.metadata), userDataSha256: userDataSha256(input.userData), live: input.live };
  let planInput: PlanInput;
  let warnings: Problem[] = [];
  if (userData.kind === 'cloud-config' || userData.kind === 'multipart') {
    const substitute = (text: string) => substituteMetadata(text, input.metadata);
    const { config, problems } = userData.kind === 'multipart' ? validateMultipart(userData, substitute) : validateCloudConfig(substitute(userData.text));
    if (!config || hasErrors(problems)) return { ok: false, problems };
    warnings = problems;
    planInput = { ...base, userData: { kind: 'cloud-config', config } };
  } else if (userData.kind === 'script') planInput = { ...base, userData: { kind: 'script', text: userData.text } };
  else planInput = { ...base, userData: { kind: 'empty' } };
  return { ok: true, plan: planCloudConfig(planInput), warnings };
}
