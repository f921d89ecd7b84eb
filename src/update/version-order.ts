/**
 * Release version ordering. Versions are dotted numbers with optional alphanumeric parts
 * (`1.2.0`, `2024.05.1`, `1.0.0-rc.2`): compared part by part, numbers numerically, a
 * pre-release (after `-`) lower than the same version without one. The update agent
 * compares versions to refuse downgrades, so this must be total and deterministic.
 */
export function compareVersions(a: string, b: string): number {
  const [mainA = '', preA] = splitPre(a);
  const [mainB = '', preB] = splitPre(b);
  const main = compareParts(mainA, mainB);
  if (main !== 0) return main;
  if (preA === undefined) return preB === undefined ? 0 : 1;
  if (preB === undefined) return -1;
  return compareParts(preA, preB);
}

/** True when `version` looks like one keel can order: digits, letters, dots, `-`, `+`. */
export function isVersion(version: string): boolean {
  return /^[0-9A-Za-z][0-9A-Za-z.+~_-]{0,63}$/.test(version);
}

function splitPre(v: string): [string, string | undefined] {
  const noBuild = v.split('+')[0] ?? v;
  const i = noBuild.indexOf('-');
  return i < 0 ? [noBuild, undefined] : [noBuild.slice(0, i), noBuild.slice(i + 1)];
}

function compareParts(a: string, b: string): number {
  const pa = a.split(/[._~]/);
  const pb = b.split(/[._~]/);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i];
    const y = pb[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const nx = /^\d+$/.test(x) ? Number(x) : undefined;
    const ny = /^\d+$/.test(y) ? Number(y) : undefined;
    if (nx !== undefined && ny !== undefined) {
      if (nx !== ny) return nx < ny ? -1 : 1;
    } else if (nx !== undefined) return 1; // a number sorts above a word (1.0.1 > 1.0.beta)
    else if (ny !== undefined) return -1;
    else if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}
