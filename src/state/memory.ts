import { EventEmitter } from 'node:events';
import { LRUCache } from 'lru-cache';
import type { BucketResult, BucketSpec, CacheEntry, CacheSpace, StateHealth, StateStore } from './store.js';
import { MemoryVectorSpace, type VectorSpaceLimits } from './vector-space.js';

interface Spend {
  value: number;
  expiresAt: number;
}

/** How often idle buckets and expired spend counters are swept. */
const SWEEP_MS = 10_000;
/** Above this many buckets, a sweep also runs on insert (at most once per second). */
const SWEEP_SIZE = 100_000;
/** What an entry costs beyond its bytes: the object, the map node, the key. */
const ENTRY_OVERHEAD = 96;

/** The bytes an entry really holds, as the LRU counts them. */
export function entrySize(key: string, entry: CacheEntry): number {
  let size = ENTRY_OVERHEAD + key.length + entry.body.length + (entry.bodyNoUsage?.length ?? 0);
  for (const name in entry.headers) size += name.length + entry.headers[name]!.length;
  return size;
}

/** One router's in-process cache: an LRU bounded by the real size of its entries. */
export class MemoryCacheSpace implements CacheSpace {
  readonly lru: LRUCache<string, CacheEntry>;
  hits = 0;
  misses = 0;
  stores = 0;
  evictions = 0;

  constructor(readonly maxSize: number) {
    this.lru = new LRUCache<string, CacheEntry>({
      maxSize,
      sizeCalculation: (entry, key) => entrySize(key, entry),
      dispose: (_entry, _key, reason) => {
        if (reason === 'evict') this.evictions++;
      },
    });
  }

  get(key: string, now: number): CacheEntry | undefined {
    const entry = this.lru.get(key);
    if (entry && entry.expiresAt > now) {
      this.hits++;
      return entry;
    }
    if (entry) this.lru.delete(key);
    this.misses++;
    return undefined;
  }

  /** Like get, without counting (the redis space's fallback counts for itself). */
  peek(key: string, now: number): CacheEntry | undefined {
    const entry = this.lru.get(key);
    return entry && entry.expiresAt > now ? entry : undefined;
  }

  set(key: string, entry: CacheEntry): void {
    if (entrySize(key, entry) > this.maxSize) return;
    this.lru.set(key, entry);
    this.stores++;
  }

  clear(): number {
    const n = this.lru.size;
    this.lru.clear();
    return n;
  }

  stats(): Record<string, unknown> {
    return {
      backend: 'memory',
      entries: this.lru.size,
      bytes: this.lru.calculatedSize,
      max_bytes: this.maxSize,
      hits: this.hits,
      misses: this.misses,
      stores: this.stores,
      evictions: this.evictions,
    };
  }
}

/**
 * Everything in this process: token buckets (refilled lazily, swept when idle), spend
 * counters (dropped after their period), and one LRU per router cache.
 */
export class MemoryStore extends EventEmitter implements StateStore {
  readonly backend = 'memory' as const;
  /** Bucket key → epoch ms when it is full again (past that, it is swept). */
  private readonly buckets = new Map<string, number>();
  private readonly spend = new Map<string, Spend>();
  private readonly spaces = new Map<string, MemoryCacheSpace>();
  private readonly vectorSpaces = new Map<string, MemoryVectorSpace>();
  private timer: NodeJS.Timeout | null = null;
  private lastSweep = 0;

  constructor(private readonly now: () => number = Date.now) {
    super();
  }

  take(specs: readonly BucketSpec[], now: number, force = false): BucketResult {
    const fullAt: number[] = [];
    let allowed = true;
    for (const spec of specs) {
      const at = Math.max(this.buckets.get(spec.key) ?? now, now);
      if (spec.capacity - (at - now) / spec.interval < spec.need) allowed = false;
      fullAt.push(at);
    }
    const tokens: number[] = [];
    for (let i = 0; i < specs.length; i++) {
      const spec = specs[i]!;
      let at = fullAt[i]!;
      if (allowed || force) at += spec.cost * spec.interval;
      if (at > now) this.setBucket(spec.key, at);
      else this.buckets.delete(spec.key);
      tokens.push(spec.capacity - (at - now) / spec.interval);
    }
    return { allowed: allowed || force, tokens };
  }

  private setBucket(key: string, fullAt: number): void {
    this.buckets.set(key, fullAt);
    this.timer ??= setInterval(() => this.sweep(), SWEEP_MS).unref();
    if (this.buckets.size > SWEEP_SIZE && this.now() - this.lastSweep > 1000) this.sweep();
  }

  /** Drops buckets that are full again (the same as absent) and spend of past periods. */
  sweep(): void {
    const now = this.now();
    this.lastSweep = now;
    for (const [key, fullAt] of this.buckets) if (fullAt <= now) this.buckets.delete(key);
    for (const [key, spend] of this.spend) if (spend.expiresAt <= now) this.spend.delete(key);
  }

  /** How many buckets are held (for tests of the sweep). */
  get bucketCount(): number {
    return this.buckets.size;
  }

  addSpend(key: string, usd: number, expiresAt: number): number {
    const spend = this.spend.get(key);
    if (spend && spend.expiresAt > this.now()) {
      spend.value += usd;
      return spend.value;
    }
    this.spend.set(key, { value: usd, expiresAt });
    this.timer ??= setInterval(() => this.sweep(), SWEEP_MS).unref();
    return usd;
  }

  getSpend(key: string): number {
    const spend = this.spend.get(key);
    return spend && spend.expiresAt > this.now() ? spend.value : 0;
  }

  vectorSpace(name: string, limits: VectorSpaceLimits): MemoryVectorSpace {
    const existing = this.vectorSpaces.get(name);
    if (existing && existing.limits.maxBytes === limits.maxBytes && existing.limits.maxPerScope === limits.maxPerScope) return existing;
    const space = new MemoryVectorSpace(limits);
    this.vectorSpaces.set(name, space);
    return space;
  }

  cacheSpace(name: string, maxSize: number): MemoryCacheSpace {
    const existing = this.spaces.get(name);
    if (existing && existing.maxSize === maxSize) return existing;
    const space = new MemoryCacheSpace(maxSize);
    this.spaces.set(name, space);
    return space;
  }

  clearCache(name?: string): Promise<number> {
    let n = 0;
    for (const [spaceName, space] of this.spaces) if (name === undefined || spaceName === name) n += space.clear();
    return Promise.resolve(n);
  }

  health(): StateHealth {
    return { backend: 'memory' };
  }

  ready(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    return Promise.resolve();
  }
}
