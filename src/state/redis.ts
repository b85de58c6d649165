import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Counter, Gauge } from 'prom-client';
import { MemoryCacheSpace, MemoryStore } from './memory.js';
import type { BucketResult, BucketSpec, CacheEntry, CacheSpace, StateHealth, StateStore } from './store.js';
import { RedisVectorSpace } from './redis-vector-space.js';
import { decodeEntry, encodeEntry } from './entry-codec.js';
import type { VectorSpace, VectorSpaceLimits } from './vector-space.js';

export interface RedisStoreOptions {
  readonly url: string;
  /** Prepended to every key, e.g. `sidegate:`. */
  readonly prefix: string;
  /** Longest wait for one command before it counts as failed and local counters answer. */
  readonly timeoutMs: number;
  readonly logger: Logger;
  readonly now: () => number;
  readonly failures: Counter;
  readonly up: Gauge;
}

/**
 * Token buckets in one atomic step (GCRA: each key holds the time its bucket is full again).
 * KEYS: the buckets. ARGV: now (ms), force (1/0), then per bucket capacity, interval (ms
 * per token), cost, need. Returns allowed (1/0) and each bucket's tokens, as strings (Lua
 * numbers would be truncated to integers on the way out). A key lives only while its
 * bucket is not full, so idle buckets vanish by themselves.
 */
const BUCKET_LUA = `
local now = tonumber(ARGV[1])
local force = ARGV[2] == '1'
local ok = true
local at = {}
for i = 1, #KEYS do
  local b = 2 + (i - 1) * 4
  local t = tonumber(redis.call('GET', KEYS[i]) or '0') or 0
  if t < now then t = now end
  at[i] = t
  if tonumber(ARGV[b + 1]) - (t - now) / tonumber(ARGV[b + 2]) < tonumber(ARGV[b + 4]) then ok = false end
end
local out = { (ok or force) and 1 or 0 }
for i = 1, #KEYS do
  local b = 2 + (i - 1) * 4
  local interval = tonumber(ARGV[b + 2])
  local t = at[i]
  if ok or force then t = t + tonumber(ARGV[b + 3]) * interval end
  if t > now then
    redis.call('SET', KEYS[i], string.format('%.17g', t), 'PX', math.ceil(t - now))
  else
    redis.call('DEL', KEYS[i])
  end
  out[i + 1] = string.format('%.17g', tonumber(ARGV[b + 1]) - (t - now) / interval)
end
return out
`;

type BucketCommand = (numKeys: number, ...args: (string | number)[]) => Promise<string[] | (string | number)[]>;

/** A router's cache in Redis (`<prefix>cache:<router>:<sha256>`), with a local LRU while Redis is down. */
class RedisCacheSpace implements CacheSpace {
  hits = 0;
  misses = 0;
  stores = 0;
  private readonly keyPrefix: string;

  constructor(
    private readonly store: RedisStore,
    name: string,
    readonly fallback: MemoryCacheSpace,
  ) {
    this.keyPrefix = `${store.prefix}cache:${name}:`;
  }

  private count(entry: CacheEntry | undefined): CacheEntry | undefined {
    if (entry) this.hits++;
    else this.misses++;
    return entry;
  }

  get(key: string, now: number): Promise<CacheEntry | undefined> | CacheEntry | undefined {
    if (!this.store.isUp) {
      this.store.fellBack('cache_get');
      return this.count(this.fallback.peek(key, now));
    }
    return this.store.client.getBuffer(this.keyPrefix + key).then(
      (raw) => {
        const entry = raw ? decodeEntry(raw) : undefined;
        return this.count(entry && entry.expiresAt > now ? entry : undefined);
      },
      (err: Error) => {
        this.store.failed('cache_get', err);
        return this.count(this.fallback.peek(key, now));
      },
    );
  }

  set(key: string, entry: CacheEntry): void {
    this.stores++;
    if (!this.store.isUp) {
      this.store.fellBack('cache_set');
      this.fallback.set(key, entry);
      return;
    }
    const ttl = Math.max(1, Math.ceil(entry.expiresAt - entry.storedAt));
    this.store.client.set(this.keyPrefix + key, encodeEntry(entry), 'PX', ttl).catch((err: Error) => {
      this.store.failed('cache_set', err);
      this.fallback.set(key, entry);
    });
  }

  stats(): Record<string, unknown> {
    return {
      backend: 'redis',
      hits: this.hits,
      misses: this.misses,
      stores: this.stores,
      local_fallback: { entries: this.fallback.lru.size, bytes: this.fallback.lru.calculatedSize, evictions: this.fallback.evictions },
    };
  }
}

/**
 * Counters and cache shared through Redis. Rate limiting is one Lua script per check
 * (loaded once, then called by SHA), spend is INCRBYFLOAT on period-stamped keys with an
 * expiry, cache entries are keys with a TTL. While Redis is unreachable every operation
 * is answered by a local MemoryStore (logged once per outage, counted per operation), and
 * Redis takes over again when it returns.
 */
export class RedisStore extends EventEmitter implements StateStore {
  readonly backend = 'redis' as const;
  readonly client: Redis;
  readonly prefix: string;
  private readonly local: MemoryStore;
  private readonly bucket: BucketCommand;
  private readonly spaces = new Map<string, RedisCacheSpace>();
  private readonly vectorSpaces = new Map<string, RedisVectorSpace>();
  private up = false;
  private failures = 0;
  private lastError: string | null = null;
  private downSince: number | null = null;
  private readonly firstAnswer: Promise<void>;
  private closing = false;

  constructor(private readonly options: RedisStoreOptions) {
    super();
    this.prefix = options.prefix;
    this.local = new MemoryStore(options.now);
    // Loaded here, not at import: a gateway on the memory backend never pays its memory.
    const { Redis: Client } = createRequire(import.meta.url)('ioredis') as typeof import('ioredis');
    this.client = new Client(options.url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: options.timeoutMs,
      connectTimeout: Math.max(options.timeoutMs, 1000),
      retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 5), 1000),
    });
    this.client.defineCommand('sidegateBucket', { lua: BUCKET_LUA });
    this.bucket = (this.client as unknown as { sidegateBucket: BucketCommand }).sidegateBucket.bind(this.client);
    this.firstAnswer = new Promise<void>((resolve) => {
      this.client.once('ready', resolve);
      this.client.once('error', () => resolve());
      this.client.once('end', resolve);
    });
    this.client.on('ready', () => this.markUp());
    this.client.on('error', (err: Error) => this.markDown(err));
    this.client.on('close', () => this.markDown(new Error('connection closed')));
    options.up.set(0);
  }

  get isUp(): boolean {
    return this.up;
  }

  private markUp(): void {
    if (this.up) return;
    this.up = true;
    this.options.up.set(1);
    if (this.downSince !== null) this.options.logger.info({ backend: 'redis' }, 'redis is back: shared counters and cache resume');
    this.downSince = null;
    this.emit('up');
  }

  private markDown(err: Error): void {
    this.lastError = err.message;
    if (this.closing) return;
    if (!this.up && this.downSince !== null) return;
    this.up = false;
    this.downSince = this.options.now();
    this.options.up.set(0);
    this.options.logger.warn({ backend: 'redis', error: err.message }, 'redis is unreachable: serving from local counters until it returns');
    this.emit('down', err);
  }

  /** An operation Redis could not serve (it failed, or Redis is down): counted, answered locally. */
  fellBack(op: string): void {
    if (this.client.status === 'wait') void this.ready(); // used without Gateway.ready(): connect now
    this.failures++;
    this.options.failures.labels(op).inc();
  }

  failed(op: string, err: Error): void {
    this.lastError = err.message;
    this.fellBack(op);
  }

  take(specs: readonly BucketSpec[], now: number, force = false): Promise<BucketResult> | BucketResult {
    if (!this.up) {
      this.fellBack('bucket');
      return this.local.take(specs, now, force);
    }
    const args: (string | number)[] = [];
    for (const s of specs) args.push(this.prefix + s.key);
    args.push(now, force ? '1' : '0');
    for (const s of specs) args.push(s.capacity, s.interval, s.cost, s.need);
    return this.bucket(specs.length, ...args).then(
      (out) => ({ allowed: Number(out[0]) === 1, tokens: out.slice(1).map(Number) }),
      (err: Error) => {
        this.failed('bucket', err);
        return this.local.take(specs, now, force);
      },
    );
  }

  addSpend(key: string, usd: number, expiresAt: number): Promise<number> | number {
    if (!this.up) {
      this.fellBack('spend_add');
      return this.local.addSpend(key, usd, expiresAt);
    }
    return this.client
      .multi()
      .incrbyfloat(this.prefix + key, usd)
      .pexpire(this.prefix + key, Math.max(1000, Math.ceil(expiresAt - this.options.now()))) // relative: the gateway's clock may not be Redis's
      .exec()
      .then(
        (results) => {
          const [err, value] = results?.[0] ?? [new Error('no reply'), null];
          if (err) throw err;
          return Number(value);
        },
      )
      .catch((err: Error) => {
        this.failed('spend_add', err);
        return this.local.addSpend(key, usd, expiresAt);
      });
  }

  getSpend(key: string): Promise<number> | number {
    if (!this.up) {
      this.fellBack('spend_get');
      return this.local.getSpend(key);
    }
    return this.client.get(this.prefix + key).then(
      (value) => (value === null ? 0 : Number(value)),
      (err: Error) => {
        this.failed('spend_get', err);
        return this.local.getSpend(key);
      },
    );
  }

  cacheSpace(name: string, maxSize: number): CacheSpace {
    const existing = this.spaces.get(name);
    if (existing && existing.fallback.maxSize === maxSize) return existing;
    const space = new RedisCacheSpace(this, name, this.local.cacheSpace(name, maxSize));
    this.spaces.set(name, space);
    return space;
  }

  vectorSpace(name: string, limits: VectorSpaceLimits): VectorSpace {
    const local = this.local.vectorSpace(name, limits);
    const existing = this.vectorSpaces.get(name);
    if (existing && existing.fallback === local) return existing;
    const space = new RedisVectorSpace(this, name, local);
    this.vectorSpaces.set(name, space);
    return space;
  }

  async clearCache(name?: string): Promise<number> {
    let removed = await this.local.clearCache(name);
    if (!this.up) return removed;
    const match = `${escapeGlob(this.prefix)}cache:${name === undefined ? '' : `${escapeGlob(name)}:`}*`;
    let cursor = '0';
    do {
      const [next, keys] = await this.client.scan(cursor, 'MATCH', match, 'COUNT', 500);
      cursor = next;
      if (keys.length) removed += await this.client.unlink(...keys);
    } while (cursor !== '0');
    return removed;
  }

  health(): StateHealth {
    return {
      backend: 'redis',
      redis: this.up ? 'up' : 'down',
      failures: this.failures,
      last_error: this.lastError,
      down_since: this.downSince === null ? null : new Date(this.downSince).toISOString(),
    };
  }

  /** Connects (once); resolves when Redis answered, or failed to, the first time. */
  ready(): Promise<void> {
    if (this.client.status === 'wait') this.client.connect().catch(() => {}); // failures arrive as 'error' events
    return this.firstAnswer;
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.local.close();
    if (this.client.status === 'ready') {
      await this.client.quit().catch(() => this.client.disconnect());
    } else {
      this.client.disconnect();
    }
  }
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
