/**
 * Validates cloud-config text into the typed model, collecting every located problem.
 * (Stub with the agreed signature; the validator work replaces the body.)
 */
import type { Problem } from '../problem.js';
import type { CloudConfig } from './model.js';

export interface ValidationResult {
  /** The model, present whenever there is no error (warnings allowed). */
  config: CloudConfig | undefined;
  problems: Problem[];
}

/** `text` is the decoded `#cloud-config` document (header included). */
export function validateCloudConfig(text: string): ValidationResult {
  void text;
  throw new Error('validateCloudConfig: not implemented yet');
}
