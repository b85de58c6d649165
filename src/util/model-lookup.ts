import { BoundedMemo } from './bounded-memo.js';

/** At most this many distinct model names are remembered by a lookup (they come from requests), each up to this long. */
const MEMO_LIMIT = 1024;
const MEMO_KEY_LENGTH = 256;

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
  private readonly memo = new BoundedMemo((model) => this.prefixOf(model), MEMO_LIMIT, MEMO_KEY_LENGTH);

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
    return this.exact.has(model) ? model : this.memo.get(model);
  }

  private prefixOf(model: string): string | null {
    for (const prefix of this.prefixes) {
      if (model.startsWith(prefix) && model.charCodeAt(prefix.length) === 0x2d /* - */) return prefix;
    }
    return null;
  }
}
