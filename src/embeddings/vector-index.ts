import { cosine } from './embedder.js';
import { OldestKey } from '../util/oldest-key.js';

export interface Match<T> {
  readonly id: string;
  readonly score: number;
  readonly value: T;
}

/**
 * The `k` items whose vectors are most similar to `vector`, scoring at least `minScore`,
 * best first: one exhaustive pass keeping a sorted list of k.
 */
export function topK<T>(items: Iterable<T>, vectorOf: (item: T) => Float32Array | null, vector: Float32Array, k: number, minScore: number): { item: T; score: number }[] {
  const best: { item: T; score: number }[] = [];
  for (const item of items) {
    const other = vectorOf(item);
    if (other === null || other.length !== vector.length) continue;
    const score = cosine(vector, other);
    if (score < minScore || (best.length === k && score <= best[k - 1]!.score)) continue;
    let i = best.length;
    while (i > 0 && best[i - 1]!.score < score) i--;
    best.splice(i, 0, { item, score });
    if (best.length > k) best.pop();
  }
  return best;
}

/**
 * Nearest neighbours by cosine similarity, searched exhaustively: exact, and for the
 * sizes a sidecar holds (thousands of entries of a few hundred dimensions) a scan costs
 * well under a millisecond. Bounded: past `maxEntries` the oldest entry goes.
 */
export class VectorIndex<T> {
  private readonly entries = new Map<string, { vector: Float32Array; value: T }>();
  private readonly oldest = new OldestKey(this.entries);

  constructor(private readonly maxEntries: number) {}

  get size(): number {
    return this.entries.size;
  }

  /** Adds or replaces the entry `id`; evicts the oldest entries beyond the bound. */
  add(id: string, vector: Float32Array, value: T): void {
    this.entries.delete(id);
    this.entries.set(id, { vector, value });
    while (this.entries.size > this.maxEntries) this.entries.delete(this.oldest.take()!);
  }

  remove(id: string): boolean {
    return this.entries.delete(id);
  }

  clear(): void {
    this.entries.clear();
  }

  /** The `k` most similar entries scoring at least `minScore`, best first. */
  search(vector: Float32Array, k: number, minScore = -1): Match<T>[] {
    return topK(this.entries, ([, entry]) => entry.vector, vector, k, minScore).map(({ item: [id, entry], score }) => ({ id, score, value: entry.value }));
  }
}
