// The HTTP fuzzer's cases: the same seed sends the same requests; a few hundred cases
// reach every kind the fuzzer promises (hostile targets, slow and vanishing clients, ...).
import { describe, expect, test } from 'vitest';
import { caseGenerator, hostileTargets } from '../../../fuzz/http-cases.js';

const take = (seed: number, n: number) => {
  const next = caseGenerator(seed);
  return Array.from({ length: n }, next);
};

describe('http fuzz cases', () => {
  test('a fixed seed gives the same requests; another seed others', () => {
    const bytes = (seed: number) => take(seed, 200).map((c) => Buffer.concat(c.chunks).toString('base64'));
    expect(bytes(7)).toEqual(bytes(7));
    expect(bytes(8)).not.toEqual(bytes(7));
  });

  test('500 cases cover the issue 9 targets, mistakes and valid requests, slow and vanishing clients', () => {
    const cases = take(1, 500);
    const labels = cases.map((c) => c.label).join('\n');
    for (const target of hostileTargets.slice(0, 5)) expect(labels).toContain(target);
    for (const kind of ['slow', 'client leaves', 'chunked', 'big header', 'bad header', 'bad id', 'bad group', 'odd body', 'garbage', 'absolute-form']) expect(labels, kind).toContain(kind);
    expect(cases.filter((c) => !c.mistake).length).toBeGreaterThan(100);
    expect(cases.filter((c) => c.mistake).length).toBeGreaterThan(100);
  });
});
