/**
 * A located validation problem. Validators collect every problem as data rather than
 * throwing the first one, so a user sees all of them at once.
 */
export type Severity = 'error' | 'warning';

export interface Problem {
  severity: Severity;
  /** Dotted path with indices, e.g. `users[1].groups`; empty for the document itself. */
  path: string;
  /** 1-based; 0 when the problem has no place in the source (e.g. an empty file). */
  line: number;
  column: number;
  message: string;
}

/** `FILE:LINE:COL: error|warning: PATH: message`, the format editors and CI parse. */
export function formatProblem(file: string, p: Problem): string {
  const where = p.path ? `${p.path}: ` : '';
  return `${file}:${p.line}:${p.column}: ${p.severity}: ${where}${p.message}`;
}

export function hasErrors(problems: readonly Problem[]): boolean {
  return problems.some((p) => p.severity === 'error');
}
