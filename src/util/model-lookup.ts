/** At most this many distinct model names are remembered by a lookup (they come from requests). */
const MEMO_LIMIT = 1024;

/**
 * A table keyed by model name, looked up the way providers name model versions: an exact
 * name first, else the longest entry the name starts with followed by `-` (so
 * `gpt-4o-2024-08-06` finds `gpt-4o`, and `gpt-4o-mini-2024-07-18` finds `gpt-4o-mini`).
 * Lookups of names the table lacks are memoised, boundedly (names come from requests).
 */
export class ModelLookup<T> {
  private readonly exact: ReadonlyMap<string, T>;
  private readonly prefixes: readonly string[];
  /** Model name → the table key it falls under (null: none). */
  private readonly memo = new Map<string, string | null>();

  constructor(table: Readonly<Record<string, T>>) {
    this.exact = new Map(Object.entries(table));
    this.prefixes = [...this.exact.keys()].sort((a, b) => b.length - a.length);
  }

  get(model: string): T | null {
    const known = this.exact.get(model);
    if (known !== undefined) return known;
    const key = this.keyOf(model);
    return key === null ? null : this.exact.get(key)!;
  }

  /** The table key a model falls under: its own name, the longest key it starts with (then `-`), or null. */
  keyOf(model: string): string | null {
    if (this.exact.has(model)) return model;
    let found = this.memo.get(model);
    if (found !== undefined) return found;
    found = null;
    for (const prefix of this.prefixes) {
      if (model.startsWith(prefix) && model.charCodeAt(prefix.length) === 0x2d /* - */) {
        found = prefix;
        break;
      }
    }
    if (this.memo.size >= MEMO_LIMIT) this.memo.clear();
    this.memo.set(model, found);
    return found;
  }
}
