/**
 * A node as plain data (what `s.any()` returns), aliases followed through the document's
 * alias index. The `yaml` package's own toJS would find each alias's anchor again and print
 * warnings on stderr for keys that are collections; the parser's budgets (alias-index.ts)
 * already bound how big and how deep this can get.
 */
import { isAlias, isMap, isPair, isScalar, isSeq, type Node } from 'yaml';
import type { AliasIndex } from './alias-index.js';

/** Plain value of `node`: scalars as YAML read them, lists as arrays, mappings as objects. */
export function toPlain(node: Node | null | undefined, aliases: AliasIndex): unknown {
  const n = isAlias(node) ? aliases.resolve(node) : node;
  if (n === null || n === undefined) return null;
  if (isScalar(n)) return n.value;
  if (isSeq(n)) return n.items.map((item) => toPlain(item as Node, aliases));
  if (isMap(n)) {
    const out: Record<string, unknown> = {};
    for (const pair of n.items) {
      if (!isPair(pair)) continue;
      const key = toPlain(pair.key as Node, aliases);
      const name = key !== null && typeof key === 'object' ? JSON.stringify(key) : String(key);
      // Own data property, even for `__proto__`: a key is data, never a way into prototypes.
      Object.defineProperty(out, name, { value: toPlain(pair.value as Node, aliases), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return null;
}
