/**
 * What every plan-* step shares: the operations being built and the problems found.
 * Steps append; the conflicts are all collected so a user sees every one at once.
 */
import type { Operation } from './operation.js';

export class PlanBuilder {
  readonly operations: Operation[] = [];
  /** Conflicts and refusals: any of these and nothing is applied. */
  readonly errors: string[] = [];
  /** Things the user should know that do not stop the plan (shown by plan and apply). */
  readonly notes: string[] = [];

  add(...ops: Operation[]): void {
    this.operations.push(...ops);
  }
  refuse(message: string): void {
    this.errors.push(message);
  }
  note(message: string): void {
    this.notes.push(message);
  }
}

const encoder = new TextEncoder();

/** UTF-8 bytes of generated text. */
export function bytes(text: string): Uint8Array {
  return encoder.encode(text);
}

/** The header keel puts in files it generates, saying where they came from. */
export function generatedBy(what: string): string {
  return `written by keel cloud-config (${what}); re-applied only with --force`;
}
