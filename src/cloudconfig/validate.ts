/**
 * Validates cloud-config text into the typed model, collecting every located problem:
 * header, size, YAML syntax and alias bombs first, then the schema walk (cloud-config-schema.ts),
 * then the model assembly (to-model.ts). Pure: the text in, `{ config, problems }` out, never a
 * throw for bad input. `$public_ipv4` and friends are substituted before this (substitute.ts).
 */
import type { Problem } from '../problem.js';
import { hasErrors } from '../problem.js';
import { readYaml } from '../schema/index.js';
import { cloudConfigSchema } from './cloud-config-schema.js';
import type { CloudConfig } from './model.js';
import { toCloudConfig } from './to-model.js';

export interface ValidationResult {
  /** The model, present whenever there is no error (warnings allowed). */
  config: CloudConfig | undefined;
  problems: Problem[];
}

export interface ValidateOptions {
  /** Require the `#cloud-config` first line (default true); off for text known to be cloud-config. */
  requireHeader?: boolean;
  /** Refuse YAML text longer than this many bytes (default 1 MiB). */
  maxBytes?: number;
}

/** `text` is the decoded `#cloud-config` document (header included). */
export function validateCloudConfig(text: string, options: ValidateOptions = {}): ValidationResult {
  const read = readCloudConfigRecord(text, options);
  if (read.value === undefined || hasErrors(read.problems)) return { config: undefined, problems: read.problems };
  return { config: toCloudConfig(read.value), problems: read.problems };
}

/**
 * The walked document before model assembly: canonical top-level keys → model pieces. Multipart
 * user-data (multipart-config.ts) merges these per part before assembling one model.
 */
export function readCloudConfigRecord(text: string, options: ValidateOptions = {}): { value: Record<string, unknown> | undefined; problems: Problem[] } {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (options.requireHeader !== false) {
    const first = body.split('\n', 1)[0] ?? '';
    if (!/^#cloud-config[ \t]*\r?$/.test(first)) {
      const shown = first.length > 40 ? `${first.slice(0, 37)}...` : first;
      return { value: undefined, problems: [{ severity: 'error', path: '', line: 1, column: 1, message: `bad header: the first line is ${JSON.stringify(shown)}; expected #cloud-config` }] };
    }
  }
  try {
    const read = readYaml<Record<string, unknown>>(cloudConfigSchema, body, { ...(options.maxBytes !== undefined ? { maxBytes: options.maxBytes } : {}), emptyValue: {} });
    return { value: hasErrors(read.problems) ? undefined : read.value, problems: read.problems };
  } catch (error) {
    // A bug in a rule must not take the caller down with it: report it as an error on the document.
    const message = error instanceof Error ? error.message : String(error);
    return { value: undefined, problems: [{ severity: 'error', path: '', line: 1, column: 1, message: `internal validator error (${message}); refusing the config` }] };
  }
}
