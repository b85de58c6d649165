/**
 * Vectors with a value each, grouped by scope (a tenant and the exact part of a request),
 * searched by cosine similarity: what the semantic cache and semantic memory keep. The
 * memory backend keeps them in this process; the redis backend stores each vector with
 * its value, so replicas share them.
 */
import { topK } from '../embeddings/vector-index.js';
import type { MaybePromise } from './store.js';
import { OldestKey } from '../util/oldest-key.js';

export interface VectorRecord {
  /** Unique within its scope; adding the same id again replaces the record. */
  readonly id: string;
  /** A unit vector. */
  readonly vector: Float32Array;
  readonly value: Buffer;
  readonly storedAt: number;
  readonly expiresAt: number;
}

export interface VectorMatch {
  readonly record: VectorRecord;
  readonly score: number;
}

export interface VectorSpaceLimits {
  /** Records kept per scope (the oldest go first). */
  readonly maxPerScope: number;
  /** Bytes kept in all (vectors and values; the oldest go first). */
  readonly maxBytes: number;
}

export interface VectorSpace {
  /** The `k` records of `scope` most similar to `vector`, scoring at least `minScore`, best first. */
  search(scope: string, vector: Float32Array, k: number, minScore: number, now: number): MaybePromise<VectorMatch[]>;
  /** Stores a record (fire and forget: a failure is counted, never thrown). */
  add(scope: string, record: VectorRecord): void;
  /** Removes a scope's records (or every scope's); resolves with how many went. */
  forget(scope?: string): Promise<number>;
  stats(): Record<string, unknown>;
}

/**
 * What a record costs beyond its bytes: the record object, its vector's and value's
 * buffers, the scope's map entry (a scope of its own at worst: every request differing
 * outside the prompt) and the eviction order's key. Measured (V8 heap plus external memory
 * per record, 512 dimensions, a 600-byte value, Node 20): 3,444 bytes in one scope, 3,715
 * in a scope each, of which 2,744 are its bytes.
 */
const RECORD_OVERHEAD = 1024;

export function recordSize(record: VectorRecord): number {
  return RECORD_OVERHEAD + record.id.length + record.vector.byteLength + record.value.length;
}

/** The best `k` of `records` for `vector`, at least `minScore`, unexpired at `now`. */
export function bestMatches(records: Iterable<VectorRecord>, vector: Float32Array, k: number, minScore: number, now: number): VectorMatch[] {
  return topK(records, (r) => (r.expiresAt > now ? r.vector : null), vector, k, minScore).map(({ item, score }) => ({ record: item, score }));
}

/** A scope's records by id, in insertion order (the scope's eviction order). */
class ScopeRecords {
  readonly records = new Map<string, VectorRecord>();
  readonly oldest = new OldestKey(this.records);
}

/** One space in this process: a map of scopes, bounded per scope and in bytes, oldest out first. */
export class MemoryVectorSpace implements VectorSpace {
  private readonly scopes = new Map<string, ScopeRecords>();
  /** Every record by `scope\0id`, in insertion order: the eviction order. */
  private readonly order = new Map<string, number>();
  private readonly oldest = new OldestKey(this.order);
  private bytes = 0;
  searches = 0;
  stores = 0;
  evictions = 0;

  constructor(readonly limits: VectorSpaceLimits) {}

  search(scope: string, vector: Float32Array, k: number, minScore: number, now: number): VectorMatch[] {
    this.searches++;
    const records = this.scopes.get(scope)?.records;
    return records ? bestMatches(records.values(), vector, k, minScore, now) : [];
  }

  add(scope: string, record: VectorRecord): void {
    const size = recordSize(record);
    if (size > this.limits.maxBytes) return;
    let inScope = this.scopes.get(scope);
    if (!inScope) this.scopes.set(scope, (inScope = new ScopeRecords()));
    const records = inScope.records;
    const key = `${scope}\0${record.id}`;
    // The same id again replaces the record (and moves it to the back of both orders).
    if (records.delete(record.id)) this.forgetKey(key);
    records.set(record.id, record);
    this.order.set(key, size);
    this.bytes += size;
    this.stores++;
    while (records.size > this.limits.maxPerScope) {
      this.remove(scope, inScope.oldest.take()!);
      this.evictions++;
    }
    while (this.bytes > this.limits.maxBytes) {
      const oldest = this.oldest.take()!;
      const cut = oldest.indexOf('\0');
      this.remove(oldest.slice(0, cut), oldest.slice(cut + 1), oldest);
      this.evictions++;
    }
  }

  /** `key`: the record's key in the eviction order, when the caller has it already. */
  private remove(scope: string, id: string, key = `${scope}\0${id}`): void {
    const records = this.scopes.get(scope)?.records;
    if (!records?.delete(id)) return;
    if (records.size === 0) this.scopes.delete(scope);
    this.forgetKey(key);
  }

  /** Drops an entry of the eviction order and its bytes. */
  private forgetKey(key: string): void {
    this.bytes -= this.order.get(key) ?? 0;
    this.order.delete(key);
  }

  async forget(scope?: string): Promise<number> {
    if (scope === undefined) {
      const n = this.order.size;
      this.scopes.clear();
      this.order.clear();
      this.bytes = 0;
      return n;
    }
    const records = this.scopes.get(scope)?.records;
    if (!records) return 0;
    const ids = [...records.keys()];
    for (const id of ids) this.remove(scope, id);
    return ids.length;
  }

  stats(): Record<string, unknown> {
    return { backend: 'memory', scopes: this.scopes.size, records: this.order.size, bytes: this.bytes, max_bytes: this.limits.maxBytes, searches: this.searches, stores: this.stores, evictions: this.evictions };
  }
}

/** A record as one Redis hash value: a 4-byte header length, the header JSON, the vector's bytes, the value. */
export function encodeRecord(record: VectorRecord): Buffer {
  const meta = Buffer.from(JSON.stringify({ storedAt: record.storedAt, expiresAt: record.expiresAt, dims: record.vector.length }));
  const head = Buffer.allocUnsafe(4);
  head.writeUInt32BE(meta.length, 0);
  const vector = Buffer.from(record.vector.buffer, record.vector.byteOffset, record.vector.byteLength);
  return Buffer.concat([head, meta, vector, record.value]);
}

export function decodeRecord(id: string, raw: Buffer): VectorRecord | null {
  try {
    const metaLength = raw.readUInt32BE(0);
    const meta = JSON.parse(raw.subarray(4, 4 + metaLength).toString('utf8')) as { storedAt: number; expiresAt: number; dims: number };
    const start = 4 + metaLength;
    const end = start + meta.dims * 4;
    const vector = new Float32Array(meta.dims);
    Buffer.from(vector.buffer).set(raw.subarray(start, end));
    return { id, vector, value: raw.subarray(end), storedAt: meta.storedAt, expiresAt: meta.expiresAt };
  } catch {
    return null; // a record some other version wrote: ignored
  }
}
