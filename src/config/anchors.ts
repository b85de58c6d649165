/**
 * Linear passes over a parsed YAML document, replacing yaml's own where those are
 * quadratic in the size of the file: yaml's `alias.resolve(doc)` walks the whole document
 * for every alias, its `uniqueKeys` check compares each new key with every earlier key of
 * its map, and its `toJS` scans every anchor and alias before each alias. A config with
 * 10 000 routers sharing one feature block took minutes to load; these take milliseconds.
 */
import { isAlias, isMap, isScalar, isSeq, visit, type Alias, type Document, type Node } from 'yaml';

/** Alias → the node of the last anchor of its name before it (in document order). */
export function aliasTargets(doc: Document): Map<Alias, Node> {
  const anchors = new Map<string, Node>();
  const targets = new Map<Alias, Node>();
  visit(doc, {
    Node(_key, node) {
      if (isAlias(node)) {
        const target = anchors.get(node.source);
        if (target) targets.set(node, target);
      } else if (node.anchor) {
        anchors.set(node.anchor, node);
      }
    },
  });
  return targets;
}

function keyOf(key: unknown): string {
  return isScalar(key) ? String(key.value) : String(key);
}

/** The character offsets of every map key written a second time in its map. */
export function duplicateKeyOffsets(doc: Document): number[] {
  const offsets: number[] = [];
  visit(doc, {
    Map(_key, map) {
      const seen = new Set<string>();
      for (const pair of map.items) {
        const key = keyOf(pair.key);
        if (seen.has(key)) offsets.push((pair.key as Node | null)?.range?.[0] ?? 0);
        else seen.add(key);
      }
    },
  });
  return offsets;
}

/**
 * The document as plain values (maps → objects, lists → arrays, scalars → their values),
 * an alias becoming the same value as the node it names. Callers bound the expanded size
 * first (limits.ts), so this never meets an alias bomb.
 */
export function toPlain(doc: Document, targets: ReadonlyMap<Alias, Node>): unknown {
  const done = new Map<Node, unknown>();
  const convert = (node: unknown): unknown => {
    if (node === null || node === undefined) return null;
    if (isAlias(node)) {
      const target = targets.get(node);
      if (!target) throw new ReferenceError(`unresolved alias *${node.source} (the anchor must come before the alias)`);
      return convert(target);
    }
    if (isScalar(node)) return node.value;
    const known = done.get(node as Node);
    if (known !== undefined) return known;
    if (isMap(node)) {
      const out: Record<string, unknown> = {};
      done.set(node, out);
      for (const pair of node.items) {
        const key = keyOf(pair.key);
        const value = convert(pair.value);
        if (key === '__proto__') Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
        else out[key] = value;
      }
      return out;
    }
    if (isSeq(node)) {
      const out: unknown[] = [];
      done.set(node, out);
      for (const item of node.items) out.push(convert(item));
      return out;
    }
    return node;
  };
  return convert(doc.contents);
}
