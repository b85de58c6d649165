import { EventEmitter } from 'node:events';
import { LRUCache } from 'lru-cache';
import type {
  BucketResult,
  BucketSpec,
  BudgetHold,
  BudgetLevel,
  CacheEntry,
  CacheSpace,
  ReserveResult,
  SettleResult,
  StateHealth,
  StateStore,
} from './store.js';
import { MemoryVectorSpace, type VectorSpaceLimits } from './vector-space.js';
import { LIMITS } from '../server/limits.js';
import { OldestKey } from '../util/oldest-key.js';

/** One budget period of one spender: settled spend, and reservations by id (usd, until when). */
interface Ledger {
  spend: number;
  reserved: number;
  readonly holds: Map<string, { usd: number; until: number }>;
  expiresAt: number;
}

/** How often idle buckets and expired spend counters are swept. */
const SWEEP_MS = 10_000;
/** Above this many buckets, a sweep also runs on insert (at most once per second). */
const SWEEP_SIZE = 100_000;
/**
 * What an entry costs beyond its bytes: the entry and header objects, the body's buffer,
 * the LRU's node and the key string. Measured (V8 heap plus external memory per entry, a
 * 400-byte answer with four headers, Node 20): 990 bytes, of which 543 are its bytes.
 */
const ENTRY_OVERHEAD = 512;

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
    const size = entrySize(key, entry);
    if (size > this.maxSize) return;
    this.lru.set(key, entry, { size });
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
 * Everything in this process: token buckets (refilled lazily, swept when idle, at most
 * LIMITS.memory_buckets of them, least recently used forgotten first), budget
 * ledgers (dropped after their period), and one LRU per router cache.
 */
export class MemoryStore extends EventEmitter implements StateStore {
  readonly backend = 'memory' as const;
  /** Bucket key → epoch ms when it is full again (past that, it is swept). */
  private readonly buckets = new Map<string, number>();
  private readonly oldestBucket = new OldestKey(this.buckets);
  private readonly ledgers = new Map<string, Ledger>();
  private readonly spaces = new Map<string, MemoryCacheSpace>();
  private readonly vectorSpaces = new Map<string, MemoryVectorSpace>();
  private timer: NodeJS.Timeout | null = null;
  private lastSweep = 0;

  /**
   * `maxBuckets` bounds the buckets held (keys come from clients: IPs, API keys, headers);
   * past it the least recently used bucket is forgotten, which refills it.
   */
  constructor(
    private readonly now: () => number = Date.now,
    private readonly maxBuckets: number = LIMITS.memory_buckets,
  ) {
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
    this.buckets.delete(key); // re-inserted last: the map's order is least recently used first
    this.buckets.set(key, fullAt);
    if (this.buckets.size > this.maxBuckets) this.buckets.delete(this.oldestBucket.take()!);
    this.timer ??= setInterval(() => this.sweep(), SWEEP_MS).unref();
    if (this.buckets.size > SWEEP_SIZE && this.now() - this.lastSweep > 1000) this.sweep();
  }

  /** Drops buckets that are full again (the same as absent) and spend of past periods. */
  sweep(): void {
    const now = this.now();
    this.lastSweep = now;
    for (const [key, fullAt] of this.buckets) if (fullAt <= now) this.buckets.delete(key);
    for (const [key, ledger] of this.ledgers) if (ledger.expiresAt <= now) this.ledgers.delete(key);
  }

  /** How many buckets are held (for tests of the sweep). */
  get bucketCount(): number {
    return this.buckets.size;
  }

  private ledger(key: string, expiresAt: number): Ledger {
    let ledger = this.ledgers.get(key);
    if (!ledger || ledger.expiresAt <= this.now()) {
      ledger = { spend: 0, reserved: 0, holds: new Map(), expiresAt };
      this.ledgers.set(key, ledger);
      this.timer ??= setInterval(() => this.sweep(), SWEEP_MS).unref();
    }
    ledger.expiresAt = Math.max(ledger.expiresAt, expiresAt);
    return ledger;
  }

  /** Drops a ledger's reservations that expired (a request that never settled). */
  private expire(ledger: Ledger, now: number): void {
    // Holds are taken in time order for the same HOLD_MS: the first one still held ends the scan.
    for (const [id, hold] of ledger.holds) {
      if (hold.until > now) break;
      ledger.holds.delete(id);
      ledger.reserved -= hold.usd;
    }
    if (ledger.holds.size === 0) ledger.reserved = 0; // no float drift survives an empty ledger
  }

  reserve(hold: BudgetHold, limit: number, now: number, holdMs: number, expiresAt: number): ReserveResult {
    const ledger = this.ledger(hold.key, expiresAt);
    this.expire(ledger, now);
    const allowed = ledger.spend + ledger.reserved < limit;
    if (allowed && hold.usd > 0) {
      ledger.holds.set(hold.id, { usd: hold.usd, until: now + holdMs });
      ledger.reserved += hold.usd;
    }
    return { allowed, spend: ledger.spend, reserved: ledger.reserved };
  }

  settle(key: string, hold: BudgetHold | null, usd: number, expiresAt: number): SettleResult {
    const ledger = this.ledger(key, expiresAt);
    const held = hold ? ledger.holds.get(hold.id) : undefined;
    if (held) {
      ledger.holds.delete(hold!.id);
      ledger.reserved = ledger.holds.size === 0 ? 0 : ledger.reserved - held.usd;
    }
    const before = ledger.spend;
    if (usd > 0) ledger.spend += usd;
    return { before, spend: ledger.spend, reserved: ledger.reserved };
  }

  budgetLevel(key: string, now: number): BudgetLevel {
    const ledger = this.ledgers.get(key);
    if (!ledger || ledger.expiresAt <= now) return { spend: 0, reserved: 0 };
    this.expire(ledger, now);
    return { spend: ledger.spend, reserved: ledger.reserved };
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
