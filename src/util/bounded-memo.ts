/**
 * The results of a pure function of a string, remembered for strings that come again (a
 * caller's address, a system prompt, a model name, an object key). Keys come from
 * requests, so the memory is bounded twice: at most `maxEntries` results (when full it
 * starts over, which costs one recomputation per key), and keys longer than
 * `maxKeyLength` are computed every time, never kept.
 */
export class BoundedMemo<V> {
  private readonly memo = new Map<string, V>();

  constructor(
    private readonly compute: (key: string) => V,
    private readonly maxEntries: number,
    private readonly maxKeyLength: number,
  ) {}

  get(key: string): V {
    const known = this.memo.get(key);
    if (known !== undefined || this.memo.has(key)) return known as V; // one lookup for a remembered value
    const value = this.compute(key);
    if (key.length <= this.maxKeyLength) {
      if (this.memo.size >= this.maxEntries) this.memo.clear();
      this.memo.set(key, value);
    }
    return value;
  }
}
