/**
 * "did you mean …" for unknown keys: the known key at the smallest edit distance, when it is
 * close enough to be a typo rather than a different word.
 */

/**
 * Edit distance counting a swap of two neighbours as one edit (optimal string alignment), since
 * `fats` for `fast` is one typo. Capped: returns `limit + 1` once the distance must exceed it.
 */
export function editDistance(a: string, b: string, limit = Number.POSITIVE_INFINITY): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let before: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, before[j - 2]! + 1);
      current.push(v);
      if (v < rowMin) rowMin = v;
    }
    if (rowMin > limit) return limit + 1;
    before = previous;
    previous = current;
  }
  return previous[b.length]!;
}

/** The closest candidate within a third of the key's length (at least 1, at most 3 edits), or undefined. */
export function nearMiss(key: string, candidates: readonly string[]): string | undefined {
  const k = key.toLowerCase().replace(/-/g, '_');
  const limit = Math.min(3, Math.max(1, Math.floor(k.length / 3)));
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const c of candidates) {
    // Lengths further apart than the limit cannot be near: skip the table.
    if (Math.abs(c.length - k.length) > limit) continue;
    const d = editDistance(k, c.toLowerCase().replace(/-/g, '_'), limit);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}
