/**
 * Aliases resolved once, in linear time, with a budget on what they expand to. The `yaml`
 * package finds an alias's anchor by walking the document again for every alias (and its
 * own guard counts expansions per anchor), so 10,000 honest aliases cost a quadratic walk
 * while a wide bomb of many anchors passes. Here one pre-order pass maps every alias to the
 * last anchor defined before it (YAML's rule), and one memoised pass measures each node's
 * expanded size and nesting: the whole document's expansion is then known before anything
 * walks it, and a bomb is refused at the alias that crosses the budget.
 */
import { isAlias, isCollection, isNode, isPair, type Alias, type Document, type Node } from 'yaml';

/** What one node becomes once its aliases are expanded. */
interface Measure {
  /** Nodes in the expansion (collections and scalars, the node itself included). */
  size: number;
  /** Nested collections in the expansion: 0 for a scalar, 1 for a flat list. */
  height: number;
}

export interface AliasLimits {
  /** Nodes the whole document may expand to. */
  maxNodes: number;
  /** Collections nested in one another, aliases expanded. */
  maxDepth: number;
}

/** Problems are raised with offsets; the caller locates them. */
export interface AliasProblem {
  offset: number;
  message: string;
}

/** Every alias of one document, resolved. */
export class AliasIndex {
  private readonly targets = new Map<Alias, Node>();
  /** Node (alias or not) → nested collections around it, in the text as written. */
  private readonly order: { node: Node; depth: number }[] = [];
  private readonly measures = new Map<Node, Measure>();
  private readonly undefinedAliases: Alias[] = [];
  private recursive: Alias | undefined;

  constructor(private readonly doc: Document) {
    this.index();
  }

  /** The node an alias stands for; undefined for an alias with no anchor before it. */
  target(alias: Alias): Node | undefined {
    return this.targets.get(alias);
  }

  /** Follows an alias (once: an anchor never names an alias); other nodes are themselves. */
  resolve(node: Node | null | undefined): Node | null | undefined {
    return isAlias(node) ? (this.targets.get(node) ?? null) : node;
  }

  /** What keeps the document from being walked: undefined aliases, recursion, size, depth. */
  check(limits: AliasLimits): AliasProblem | undefined {
    const missing = this.undefinedAliases[0];
    if (missing) return { offset: offsetOf(missing), message: `undefined alias *${missing.source}; expected an anchor &${missing.source} defined before it; refusing to read the document` };
    if (this.order.length === 0) return undefined;
    const root = this.measure(this.order[0]!.node);
    if (this.recursive)
      return { offset: offsetOf(this.recursive), message: `alias *${this.recursive.source} is inside the node it names (a recursive alias); expected an alias of a finished node; refusing to read the document` };
    if (root.height > limits.maxDepth) {
      for (const { node, depth } of this.order) {
        const t = isAlias(node) ? this.targets.get(node) : undefined;
        if (t && depth + this.measure(t).height > limits.maxDepth)
          return { offset: offsetOf(node), message: `alias *${(node as Alias).source} nests collections deeper than ${limits.maxDepth} levels once expanded; expected at most ${limits.maxDepth}; refusing to read the document` };
      }
      return { offset: 0, message: `collections are nested deeper than ${limits.maxDepth} levels; expected at most ${limits.maxDepth}; refusing to read the document` };
    }
    if (root.size > limits.maxNodes) {
      let total = 0;
      for (const { node } of this.order) {
        const t = isAlias(node) ? this.targets.get(node) : undefined;
        total += t ? this.measure(t).size : 1;
        if (total > limits.maxNodes && t)
          return { offset: offsetOf(node), message: `aliases expand the document to more than ${limits.maxNodes} nodes (an alias bomb?); expected at most ${limits.maxNodes}; refusing to read it` };
      }
      return { offset: 0, message: `the document has more than ${limits.maxNodes} nodes; expected at most ${limits.maxNodes}; refusing to read it` };
    }
    return undefined;
  }

  /** One pre-order pass (a node before its children, a key before its value), as YAML defines "before". */
  private index(): void {
    const anchors = new Map<string, Node>();
    const stack: { node: Node; depth: number }[] = [];
    const push = (n: unknown, depth: number) => {
      if (isNode(n)) stack.push({ node: n, depth });
    };
    push(this.doc.contents, 0);
    while (stack.length > 0) {
      const { node, depth } = stack.pop()!;
      this.order.push({ node, depth });
      if (isAlias(node)) {
        const t = anchors.get(node.source);
        if (t) this.targets.set(node, t);
        else this.undefinedAliases.push(node);
        continue;
      }
      if (node.anchor) anchors.set(node.anchor, node);
      if (!isCollection(node)) continue;
      for (let i = node.items.length - 1; i >= 0; i--) {
        const item = node.items[i];
        if (isPair(item)) {
          push(item.value, depth + 1);
          push(item.key, depth + 1);
        } else push(item, depth + 1);
      }
    }
  }

  /** Expanded size and height of a node, memoised; an explicit stack, so no input can overflow ours. */
  private measure(start: Node): Measure {
    const active = new Set<Node>();
    const frames: { node: Node; kids: Node[]; i: number; size: number; height: number }[] = [];
    const visit = (n: Node): Measure | undefined => {
      let node = n;
      if (isAlias(node)) {
        const t = this.targets.get(node);
        if (!t) return { size: 1, height: 0 };
        if (active.has(t)) {
          this.recursive ??= node;
          return { size: 1, height: 0 };
        }
        node = t;
      }
      const known = this.measures.get(node);
      if (known) return known;
      if (!isCollection(node)) return { size: 1, height: 0 };
      active.add(node);
      frames.push({ node, kids: childrenOf(node), i: 0, size: 1, height: 1 });
      return undefined;
    };
    let done = visit(start);
    while (frames.length > 0) {
      const f = frames[frames.length - 1]!;
      if (done) {
        f.size = Math.min(f.size + done.size, Number.MAX_SAFE_INTEGER);
        f.height = Math.max(f.height, 1 + done.height);
        done = undefined;
      }
      if (f.i < f.kids.length) {
        done = visit(f.kids[f.i++]!);
        continue;
      }
      frames.pop();
      active.delete(f.node);
      done = { size: f.size, height: f.height };
      this.measures.set(f.node, done);
    }
    return done!;
  }
}

function childrenOf(node: Node): Node[] {
  if (!isCollection(node)) return [];
  const out: Node[] = [];
  for (const item of node.items) {
    if (isPair(item)) {
      if (isNode(item.key)) out.push(item.key);
      if (isNode(item.value)) out.push(item.value);
    } else if (isNode(item)) out.push(item);
  }
  return out;
}

function offsetOf(node: Node): number {
  return node.range?.[0] ?? 0;
}
