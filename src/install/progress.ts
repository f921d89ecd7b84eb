/**
 * Progress of the image write (pure): a bar redrawn in place on a terminal, and plain
 * lines at most every few seconds or tenths for the journal.
 */

export interface ProgressState {
  bytes: number;
  total: number;
  elapsedMs: number;
}

const mib = 1024 * 1024;

/** `[#######.....]  42%  840/2000 MiB  35.0 MiB/s`: one terminal line, no newline. */
export function progressBar(p: ProgressState, width = 30): string {
  const frac = p.total > 0 ? Math.min(1, p.bytes / p.total) : 0;
  const filled = Math.round(frac * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${progressLine(p)}`;
}

/** `42% 840/2000 MiB 35.0 MiB/s`. */
export function progressLine(p: ProgressState): string {
  const pct = p.total > 0 ? Math.floor((100 * p.bytes) / p.total) : 0;
  const rate = p.elapsedMs > 0 ? p.bytes / mib / (p.elapsedMs / 1000) : 0;
  return `${String(pct).padStart(3)}% ${Math.floor(p.bytes / mib)}/${Math.ceil(p.total / mib)} MiB ${rate.toFixed(1)} MiB/s`;
}

/** Whether a journal line is due: every 10% step, or every `everyMs` since the last one. */
export function journalLineDue(p: ProgressState, last: ProgressState | undefined, everyMs = 5000): boolean {
  if (!last) return true;
  const step = (x: ProgressState) => (x.total > 0 ? Math.floor((10 * x.bytes) / x.total) : 0);
  return step(p) > step(last) || p.elapsedMs - last.elapsedMs >= everyMs;
}
