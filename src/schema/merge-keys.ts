/**
 * How the walk reads a mapping's keys: `<<` merge keys expanded (YAML 1.1's merge, which
 * cloud-init configs use), and the node under a key or index found as the walk folds keys.
 */
import { isMap, isScalar, isSeq, type Node, type Pair, type YAMLMap } from 'yaml';
import type { AliasIndex } from './alias-index.js';
import { foundOf } from './describe.js';

type MaybeNode = Node | null | undefined;

/**
 * The map's pairs with `<<` merge keys expanded: explicit keys first, then merged ones not
 * already given. A `<<` whose value is not a mapping (or an alias of one) is passed to `bad`.
 */
export function pairsOf(map: YAMLMap, aliases: AliasIndex, bad: (node: MaybeNode, message: string) => void): Pair[] {
  const merges = map.items.filter((p) => isScalar(p.key) && typeof p.key.value === 'symbol');
  if (merges.length === 0) return map.items as Pair[];
  const mergeSet = new Set(merges);
  const own = map.items.filter((p) => !mergeSet.has(p)) as Pair[];
  const ownKeys = new Set(own.map((p) => (isScalar(p.key) ? String(p.key.value) : '')));
  const merged: Pair[] = [];
  for (const m of merges) {
    const sources = isSeq(m.value) ? m.value.items : [m.value];
    for (const src of sources) {
      const target = aliases.resolve(src as MaybeNode);
      if (!isMap(target)) {
        bad(src as MaybeNode, `expected an alias of a mapping after <<, found ${foundOf(target)}`);
        continue;
      }
      for (const p of target.items as Pair[]) {
        const k = isScalar(p.key) ? String(p.key.value) : '';
        if (!ownKeys.has(k)) {
          ownKeys.add(k);
          merged.push(p);
        }
      }
    }
  }
  return [...own, ...merged];
}

/** The node under `node` at a key (compared as the walk folds keys) or an index; undefined when absent. */
export function childOf(aliases: AliasIndex, node: MaybeNode, key: string | number, normalize: boolean): MaybeNode {
  const target = aliases.resolve(node);
  if (typeof key === 'number') return isSeq(target) ? (target.items[key] as MaybeNode) : undefined;
  if (!isMap(target)) return undefined;
  const pair = target.items.find((p) => isScalar(p.key) && (normalize ? String(p.key.value).replace(/-/g, '_') : String(p.key.value)) === key);
  return (pair?.value as MaybeNode) ?? (pair?.key as MaybeNode);
}
