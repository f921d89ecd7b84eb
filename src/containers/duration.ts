/**
 * Durations in the supervisor's own settings (supervisor.yaml, e.g. the discovery TTL): a
 * number of seconds, or a string like `500ms`, `10s`, `1m30s`, `2h`. Container specs read
 * durations through their schema (spec-schema.ts), not through this.
 */

const unitSeconds: Record<string, number> = { ms: 0.001, s: 1, m: 60, min: 60, h: 3600 };

/** Parses a spec duration into seconds; undefined when the text is not a duration. */
export function parseDurationSeconds(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text);
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|min|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) return undefined;
  return parts.reduce((sum, p) => sum + Number(p[1]) * (unitSeconds[p[2]!] ?? 0), 0);
}

/** Prints seconds as a systemd time span: whole seconds as `Ns`, anything finer as `Nms`. */
export function formatSystemdSpan(seconds: number): string {
  const ms = Math.round(seconds * 1000);
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
