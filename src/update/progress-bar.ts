/**
 * A one-line progress bar for `keel update install` on a terminal; silent elsewhere so logs
 * and pipes stay clean. Redraws at most every 100 ms.
 */
export function progressBar(stream: NodeJS.WritableStream & { isTTY?: boolean; columns?: number }, label: string, nowMs: () => number = Date.now): ((written: number, total: number) => void) & { done(): void } {
  if (!stream.isTTY) return Object.assign(() => undefined, { done: () => undefined });
  let last = 0;
  const start = nowMs();
  const draw = (written: number, total: number) => {
    const now = nowMs();
    if (now - last < 100 && written < total) return;
    last = now;
    const fraction = total > 0 ? written / total : 1;
    const width = Math.max(10, Math.min(40, (stream.columns ?? 80) - 50));
    const filled = Math.round(fraction * width);
    const mibps = written / 1048576 / Math.max(0.001, (now - start) / 1000);
    stream.write(`\r${label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% ${(written / 1048576).toFixed(0)}/${(total / 1048576).toFixed(0)} MiB ${mibps.toFixed(0)} MiB/s`);
  };
  return Object.assign(draw, { done: () => stream.write('\n') });
}
