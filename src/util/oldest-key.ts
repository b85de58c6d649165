/**
 * The oldest key of an insertion-ordered Map, for maps that evict oldest first.
 *
 * `map.keys().next()` on every eviction is the obvious way and a slow one: a deleted entry
 * stays in the map's table as a hole until the table is rebuilt, and a fresh iterator
 * starts at the table's first slot, so a map evicted from the front walks over every
 * hole left by the evictions before (thousands in a full cache: microseconds per call).
 * One iterator kept across calls walks each slot once; Map iterators are live, so keys
 * added later are still reached in order and keys deleted meanwhile are skipped.
 *
 * Every key `take` returns must be deleted from the map by the caller (a key left in the
 * map is not offered again until the iterator has gone round once).
 */
export class OldestKey<K> {
  private cursor: Iterator<K> | null = null;

  constructor(private readonly map: ReadonlyMap<K, unknown>) {}

  /** The map's oldest key (undefined when it is empty). */
  take(): K | undefined {
    if (this.cursor !== null) {
      const next = this.cursor.next();
      if (!next.done) return next.value;
    }
    // An iterator that has run out stays out, even when keys are added after.
    this.cursor = this.map.keys();
    const next = this.cursor.next();
    return next.done ? undefined : next.value;
  }
}
