/**
 * Bounds on a config file, checked before the work they bound: the size of the file before
 * it is parsed, and the number of values the YAML tree stands for (aliases expanded)
 * before anything walks it. A config is written by people and reviewed in pull requests;
 * these are far above any real one and far below what would stall or exhaust the process.
 */
import { isAlias, isMap, isScalar, isSeq, type Alias, type Document, type Node } from 'yaml';

/** The largest config file accepted, in bytes (checked before it is read). */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;
/**
 * The most values (maps, lists, scalars) the config may hold once YAML aliases are
 * expanded: an alias bomb ("billion laughs") stands for billions in a few hundred bytes.
 */
export const MAX_CONFIG_VALUES = 1_000_000;

export function tooLargeMessage(bytes: number): string {
  return `the config file is ${bytes} bytes; the limit is ${MAX_CONFIG_BYTES} bytes (4mb)`;
}

/**
 * The number of values the document expands to, counting each alias as the size of what it
 * names; stops as soon as the count passes `limit`. Linear in the document's own nodes:
 * the size of each anchored node is computed once.
 */
export function expandedSize(doc: Document, targets: ReadonlyMap<Alias, Node>, limit = MAX_CONFIG_VALUES): number {
  const sizes = new Map<unknown, number>();
  const active = new Set<unknown>();
  const size = (node: unknown): number => {
    if (isAlias(node)) node = targets.get(node);
    if (!node || typeof node !== 'object') return 1;
    const known = sizes.get(node);
    if (known !== undefined) return known;
    if (active.has(node) || isScalar(node)) return 1; // a cycle is yaml's error to report
    active.add(node);
    let total = 1;
    if (isMap(node)) {
      for (const pair of node.items) {
        total += size(pair.value);
        if (total > limit) break;
      }
    } else if (isSeq(node)) {
      for (const item of node.items) {
        total += size(item as Node);
        if (total > limit) break;
      }
    }
    active.delete(node);
    sizes.set(node, total);
    return total;
  };
  return size(doc.contents);
}
