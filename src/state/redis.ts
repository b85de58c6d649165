import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Counter, Gauge } from 'prom-client';
import { MemoryCacheSpace, MemoryStore } from './memory.js';
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
import { RedisVectorSpace } from './redis-vector-space.js';
import { decodeEntry, encodeEntry } from './entry-codec.js';
import type { VectorSpace, VectorSpaceLimits } from './vector-space.js';

/** Where Redis is: one server, a cluster, or the primary a set of sentinels names. */
export type RedisTarget =
  | { readonly url: string }
  | { readonly nodes: readonly string[]; readonly password?: string }
  | { readonly sentinels: readonly string[]; readonly name: string; readonly password?: string };

export interface RedisStoreOptions {
  readonly target: RedisTarget;
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

/**
 * A budget's keys (one hash slot: the caller's key carries a hash tag): KEYS[1] the settled
 * spend, KEYS[2] the sum of reservations, KEYS[3] the reservations (a sorted set, member
 * `<id>:<usd>`, score the epoch ms it expires). Expired reservations are dropped first.
 */
const EXPIRE_HOLDS_LUA = `
local function expire_holds(now)
  local held = tonumber(redis.call('GET', KEYS[2]) or '0') or 0
  local gone = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now)
  for _, member in ipairs(gone) do held = held - (tonumber(string.match(member, ':([^:]+)$')) or 0) end
  if #gone > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now) end
  if redis.call('ZCARD', KEYS[3]) == 0 then held = 0 end
  return held
end
local function store_held(held, ttl)
  if held > 0 then redis.call('SET', KEYS[2], string.format('%.17g', held), 'PX', ttl) else redis.call('DEL', KEYS[2]) end
end
`;

/**
 * Check and reserve. ARGV: now, usd, limit, until (epoch ms), member, ttl (ms). Reserves
 * only while spend + reservations < limit. Returns allowed (1/0), spend, reserved.
 */
const RESERVE_LUA = `${EXPIRE_HOLDS_LUA}
local held = expire_holds(tonumber(ARGV[1]))
local spend = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
local ok = spend + held < tonumber(ARGV[3])
local usd = tonumber(ARGV[2])
if ok and usd > 0 then
  held = held + usd
  redis.call('ZADD', KEYS[3], ARGV[4], ARGV[5])
  redis.call('PEXPIRE', KEYS[3], ARGV[6])
end
store_held(held, ARGV[6])
return { ok and 1 or 0, string.format('%.17g', spend), string.format('%.17g', held) }
`;

/**
 * Settle. ARGV: now, member ('' for none), its usd, cost, ttl (ms). Releases the
 * reservation and adds the cost. Returns spend before, spend after, reserved.
 */
const SETTLE_LUA = `${EXPIRE_HOLDS_LUA}
local held = expire_holds(tonumber(ARGV[1]))
if ARGV[2] ~= '' and redis.call('ZREM', KEYS[3], ARGV[2]) == 1 then held = held - tonumber(ARGV[3]) end
if redis.call('ZCARD', KEYS[3]) == 0 then held = 0 end
store_held(held, ARGV[5])
local before = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
local spend = before
if tonumber(ARGV[4]) > 0 then
  spend = tonumber(redis.call('INCRBYFLOAT', KEYS[1], ARGV[4]))
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
end
return { string.format('%.17g', before), string.format('%.17g', spend), string.format('%.17g', held) }
`;

type ScriptCommand = (numKeys: number, ...args: (string | number)[]) => Promise<string[] | (string | number)[]>;

/** `host:port` (IPv6 hosts in brackets) as ioredis takes it. */
function hostPort(text: string): { host: string; port: number } {
  const at = text.lastIndexOf(':');
  return { host: text.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(text.slice(at + 1)) };
}

/** A budget key's three Redis keys (the key carries the hash tag, so they share a slot). */
function budgetKeys(prefix: string, key: string): [string, string, string] {
  return [`${prefix}${key}:spend`, `${prefix}${key}:held`, `${prefix}${key}:holds`];
}

/** Large finite stand-in for an unlimited budget (Lua cannot read "Infinity"). */
const NO_LIMIT = 1e300;

/** How often a Redis that stopped answering is probed (PING) while local counters stand in. */
export const PROBE_INTERVAL_MS = 1000;

/** A failure that says Redis is not answering (a timeout, a lost connection), not a bad command. */
function isOutage(err: Error): boolean {
  return err.name !== 'ReplyError';
}

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
 * Counters and cache shared through Redis (one server, a cluster or a sentinel-managed
 * primary). Rate limiting is one Lua script per check (loaded once, then called by SHA),
 * a budget's check-and-reserve and its settlement are one script each on period-stamped
 * keys with an expiry, cache entries are keys with a TTL. Every script's keys share one
 * hash slot (the callers' keys carry a `{hash tag}`). While Redis is unreachable every operation
 * is answered by a local MemoryStore (logged once per outage, counted per operation), and
 * Redis takes over again when it returns.
 */
export class RedisStore extends EventEmitter implements StateStore {
  readonly backend = 'redis' as const;
  readonly client: Redis | Cluster;
  readonly prefix: string;
  private readonly local: MemoryStore;
  private readonly bucket: ScriptCommand;
  private readonly reserveScript: ScriptCommand;
  private readonly settleScript: ScriptCommand;
  private readonly spaces = new Map<string, RedisCacheSpace>();
  private readonly vectorSpaces = new Map<string, RedisVectorSpace>();
  private up = false;
  private failures = 0;
  private lastError: string | null = null;
  private downSince: number | null = null;
  private readonly firstAnswer: Promise<void>;
  private closing = false;
  /** Set while Redis is marked down with its connection still open (hung): PINGs until it answers. */
  private probe: NodeJS.Timeout | null = null;

  constructor(private readonly options: RedisStoreOptions) {
    super();
    this.prefix = options.prefix;
    this.local = new MemoryStore(options.now);
    // Loaded here, not at import: a gateway on the memory backend never pays its memory.
    const ioredis = createRequire(import.meta.url)('ioredis') as typeof import('ioredis');
    const common = {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: options.timeoutMs,
      connectTimeout: Math.max(options.timeoutMs, 1000),
    };
    const retry = (times: number): number => Math.min(50 * 2 ** Math.min(times, 5), 1000);
    const target = options.target;
    if ('nodes' in target) {
      this.client = new ioredis.Cluster(target.nodes.map(hostPort), {
        lazyConnect: true,
        enableOfflineQueue: false,
        clusterRetryStrategy: retry,
        redisOptions: { ...common, password: target.password },
      });
    } else if ('sentinels' in target) {
      this.client = new ioredis.Redis({
        ...common,
        sentinels: target.sentinels.map(hostPort),
        name: target.name,
        password: target.password,
        sentinelPassword: target.password,
        sentinelRetryStrategy: retry,
        retryStrategy: retry,
      });
    } else {
      this.client = new ioredis.Redis(target.url, { ...common, retryStrategy: retry });
    }
    const command = (name: string, lua: string): ScriptCommand => {
      this.client.defineCommand(name, { lua });
      return (this.client as unknown as Record<string, ScriptCommand>)[name]!.bind(this.client);
    };
    this.bucket = command('sidegateBucket', BUCKET_LUA);
    this.reserveScript = command('sidegateReserve', RESERVE_LUA);
    this.settleScript = command('sidegateSettle', SETTLE_LUA);
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
    if (this.probe) clearInterval(this.probe);
    this.probe = null;
    if (this.up || this.closing) return;
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

  /**
   * An operation Redis failed. A timeout or a lost connection opens the circuit at once:
   * Redis is marked down, every later operation is answered locally without waiting, and
   * a background PING every PROBE_INTERVAL_MS closes it again when Redis answers (a hung
   * Redis keeps its connection open, so no reconnect event would tell).
   */
  failed(op: string, err: Error): void {
    this.lastError = err.message;
    this.fellBack(op);
    if (!isOutage(err) || !this.up) return;
    this.markDown(err);
    this.probe ??= setInterval(() => {
      if (this.client.status !== 'ready') return; // reconnecting: the 'ready' event brings it back
      this.client.ping().then(
        () => this.markUp(),
        () => {},
      );
    }, PROBE_INTERVAL_MS).unref();
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

  reserve(hold: BudgetHold, limit: number, now: number, holdMs: number, expiresAt: number): Promise<ReserveResult> | ReserveResult {
    if (!this.up) {
      this.fellBack('budget_reserve');
      return this.local.reserve(hold, limit, now, holdMs, expiresAt);
    }
    const ttl = this.ttl(expiresAt);
    const member = `${hold.id}:${hold.usd}`;
    const cap = Number.isFinite(limit) ? limit : NO_LIMIT;
    return this.reserveScript(3, ...budgetKeys(this.prefix, hold.key), now, hold.usd, cap, now + holdMs, member, ttl).then(
      (out) => ({ allowed: Number(out[0]) === 1, spend: Number(out[1]), reserved: Number(out[2]) }),
      (err: Error) => {
        this.failed('budget_reserve', err);
        return this.local.reserve(hold, limit, now, holdMs, expiresAt);
      },
    );
  }

  settle(key: string, hold: BudgetHold | null, usd: number, expiresAt: number): Promise<SettleResult> | SettleResult {
    if (!this.up) {
      this.fellBack('budget_settle');
      return this.local.settle(key, hold, usd, expiresAt);
    }
    const member = hold ? `${hold.id}:${hold.usd}` : '';
    return this.settleScript(3, ...budgetKeys(this.prefix, key), this.options.now(), member, hold?.usd ?? 0, usd, this.ttl(expiresAt)).then(
      (out) => ({ before: Number(out[0]), spend: Number(out[1]), reserved: Number(out[2]) }),
      (err: Error) => {
        this.failed('budget_settle', err);
        return this.local.settle(key, hold, usd, expiresAt);
      },
    );
  }

  budgetLevel(key: string, now: number): Promise<BudgetLevel> | BudgetLevel {
    if (!this.up) {
      this.fellBack('budget_read');
      return this.local.budgetLevel(key, now);
    }
    return this.reserveScript(3, ...budgetKeys(this.prefix, key), now, 0, NO_LIMIT, now, ':0', this.ttl(now + 60_000)).then(
      (out) => ({ spend: Number(out[1]), reserved: Number(out[2]) }),
      (err: Error) => {
        this.failed('budget_read', err);
        return this.local.budgetLevel(key, now);
      },
    );
  }

  /** Milliseconds until `expiresAt` by the gateway's clock: relative, since the gateway's clock may not be Redis's. */
  private ttl(expiresAt: number): number {
    return Math.max(1000, Math.ceil(expiresAt - this.options.now()));
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
    // A cluster's keys are spread over its primaries: each is scanned on its own.
    const servers = 'nodes' in this.options.target ? (this.client as Cluster).nodes('master') : [this.client as Redis];
    for (const server of servers) {
      let cursor = '0';
      do {
        const [next, keys] = await server.scan(cursor, 'MATCH', match, 'COUNT', 500);
        cursor = next;
        for (const key of keys) removed += await server.unlink(key); // one key per call: keys of a cluster span slots
      } while (cursor !== '0');
    }
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
    if (this.probe) clearInterval(this.probe);
    this.probe = null;
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
