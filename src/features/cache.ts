import type { FeatureModule } from './feature.js';
import { bounded } from '../config/ranges.js';
import { ORDER } from './feature.js';
import type { CompileDeps } from '../pipeline/compile-deps.js';
import type { RequestContext } from '../pipeline/context.js';
import type { LocalReply, Stage } from '../pipeline/stage.js';
import type { ResponseHead } from '../providers/provider.js';
import type { CacheEntry, CacheSpace } from '../state/store.js';
import { CREDENTIAL_HEADERS } from '../upstream/headers.js';
import { parseDuration, parseSize } from '../util/units.js';
import { RequestKeyMemo } from '../pipeline/request-key.js';
import { slot } from '../pipeline/slot.js';
import { finishRecording, hasDirective, isCacheable, recordChunk, replyFrom, startRecording, type Recording } from './answer-recording.js';

export interface CacheConfig {
  ttl?: string;
  max_size?: string;
  max_entry?: string;
  key_headers?: string[];
  statuses?: number[];
  /** Tenants whose answers are kept apart by their identity: each key, or each team. */
  scope?: 'key' | 'team';
}

const DEFAULTS = { ttl: '5m', max_size: '100mb', max_entry: '1mb', key_headers: CREDENTIAL_HEADERS, statuses: [200, 201, 400, 401] };

const STATE = slot<CacheState>('cache');

interface CacheState {
  readonly key: string;
  readonly store: boolean;
  recording: Recording | null;
}

/**
 * The exact response cache. Key: SHA-256 of method, path, the `key_headers` (so tenants
 * never share entries), the router's targets and the canonical body (sorted keys; `stream`
 * and `stream_options` left out, since they only change the delivery). A hit is answered
 * from onRequest with stored bytes, which then pass the response side of the stages
 * before the cache; a miss is recorded as it leaves the stages after the cache, and
 * stored when complete. Entries live in the state store (an LRU per router in
 * memory, TTL keys in Redis), so they survive reloads.
 */
class CacheStage implements Stage {
  readonly name = 'cache';
  private readonly space: CacheSpace;
  private readonly ttlMs: number;
  private readonly maxEntry: number;
  private readonly keys: RequestKeyMemo;
  private readonly statuses: ReadonlySet<number>;
  private readonly now: () => number;
  private readonly results: { hit: { inc(): void }; miss: { inc(): void }; bypass: { inc(): void } };

  constructor(
    private readonly config: CacheConfig,
    private readonly deps: CompileDeps,
  ) {
    this.ttlMs = parseDuration(config.ttl ?? DEFAULTS.ttl);
    this.maxEntry = parseSize(config.max_entry ?? DEFAULTS.max_entry);
    // With a scope the caller's identity keeps tenants apart, so its credential need not.
    const keyHeaders = Object.freeze((config.key_headers ?? (config.scope ? [] : DEFAULTS.key_headers)).map((h) => h.toLowerCase()));
    this.keys = new RequestKeyMemo(keyHeaders, { salt: deps.routerFingerprint });
    this.statuses = new Set(config.statuses ?? DEFAULTS.statuses);
    this.space = deps.state.cacheSpace(deps.routerName, parseSize(config.max_size ?? DEFAULTS.max_size));
    this.now = deps.now;
    const requests = deps.metrics.localCounter('ai_gateway_cache_requests_total', 'Cacheable requests by router and result (hit, miss, bypass for Cache-Control: no-cache).', ['router', 'result']);
    this.results = {
      hit: requests.child(deps.routerName, 'hit'),
      miss: requests.child(deps.routerName, 'miss'),
      bypass: requests.child(deps.routerName, 'bypass'),
    };
  }

  /** The entry's key; with a `scope`, prefixed by the caller's key or team (null: no identity, no caching). */
  private keyOf(ctx: RequestContext): string | null {
    if (this.config.scope === undefined) return this.keys.keyOf(ctx);
    const identity = ctx.identity;
    const tenant = this.config.scope === 'team' ? (identity?.team ? `team=${identity.team}` : identity?.key ? `key=${identity.key}` : null) : identity?.key ? `key=${identity.key}` : null;
    return tenant === null ? null : `${tenant}:${this.keys.keyOf(ctx)}`;
  }

  onRequest(ctx: RequestContext): LocalReply | undefined | Promise<LocalReply | undefined> {
    if (!isCacheable(ctx)) return undefined;
    const key = this.keyOf(ctx);
    if (key === null) return undefined;
    const cacheControl = ctx.req.headers['cache-control'];
    ctx.set(STATE, { key, store: !hasDirective(cacheControl, 'no-store'), recording: null });
    if (hasDirective(cacheControl, 'no-cache')) {
      this.results.bypass.inc();
      ctx.res.setHeader('x-cache', 'MISS');
      return undefined;
    }
    const now = this.now();
    const found = this.space.get(key, now);
    return found instanceof Promise ? found.then((entry) => this.answer(ctx, entry, now)) : this.answer(ctx, found, now);
  }

  /** The LocalReply for a hit, or undefined (a miss: the request goes on). */
  private answer(ctx: RequestContext, entry: CacheEntry | undefined, now: number): LocalReply | undefined {
    const reply = entry ? replyFrom(ctx, entry, now, 'HIT') : null;
    if (!reply) {
      this.results.miss.inc();
      ctx.res.setHeader('x-cache', 'MISS');
      return undefined;
    }
    this.results.hit.inc();
    return reply;
  }

  /**
   * Decides whether to record the answer, at the cache's place on the response side: after
   * retries and fallbacks, and after every stage placed after the cache (interceptors) made
   * its edits, so a hit replays what a miss sent. Only upstream answers are stored, never a
   * reply an inner stage made (a block).
   */
  onResponse(ctx: RequestContext, response: ResponseHead): void {
    const state = ctx.get(STATE);
    if (state?.store) state.recording = startRecording(ctx, response, this.statuses);
  }

  /** Records the answer's bytes as they leave the stages after the cache (no extra stream on the way). */
  onData(ctx: RequestContext, chunk: Buffer): void {
    const recording = ctx.get(STATE)?.recording;
    if (recording) recordChunk(recording, chunk, this.maxEntry);
  }

  /** Stores a recorded answer once the client received all of it. */
  onDone(ctx: RequestContext): void {
    const state = ctx.get(STATE);
    if (!state) return;
    const entry = finishRecording(ctx, state.recording, this.now(), this.ttlMs);
    if (entry) this.space.set(state.key, entry);
  }

  stats(): Record<string, unknown> {
    return {
      ...this.space.stats(),
      ttl: this.config.ttl ?? DEFAULTS.ttl,
      max_entry: this.config.max_entry ?? DEFAULTS.max_entry,
    };
  }
}

export const cache: FeatureModule<CacheConfig> = {
  name: 'cache',
  order: ORDER.cache,
  describe: (config) =>
    `exact response cache, ttl ${config.ttl ?? DEFAULTS.ttl}, up to ${config.max_size ?? DEFAULTS.max_size} ` +
    `(entries up to ${config.max_entry ?? DEFAULTS.max_entry}), keyed by ${config.scope ? `the caller's ${config.scope}, ` : ''}${(config.key_headers ?? (config.scope ? [] : DEFAULTS.key_headers)).join(', ') || 'no header'} and the body`,
  schema: {
    description:
      'Exact response cache. Key: SHA-256 of the caller\'s API, method, path, the `key_headers` and the body with its keys sorted (`stream` and ' +
      '`stream_options` aside, so a stored answer also serves the other delivery). Cached: GET, and POST to ' +
      '`/v1/chat/completions`, `/v1/completions`, `/v1/embeddings`, `/v1/messages`. Streams are recorded and replayed as SSE; a stored JSON ' +
      'completion answers a streaming request as SSE too. Answers carry `X-Cache: HIT|MISS`, and hits `X-Cache-Timestamp` ' +
      'and `Age`. A request with `Cache-Control: no-cache` skips the lookup, `no-store` (request or response) skips storing. ' +
      '`DELETE /cache` on the admin listener empties it (`?router=<name>` for one router).',
    type: 'object',
    additionalProperties: false,
    properties: {
      ttl: bounded('duration', '1ms', '30d', 'How long an entry is served. Default `5m`.', { default: DEFAULTS.ttl }),
      max_size: bounded(
        'size',
        '1kb',
        '16gb',
          'The most bytes this router\'s entries may take (the real size of each entry); the least recently used go first. ' +
          'Default `100mb`. With the redis backend this bounds the local stand-in used while Redis is down; Redis itself ' +
          'is bounded by its own `maxmemory` policy.',
        { default: DEFAULTS.max_size },
      ),
      max_entry: bounded('size', '1b', '1gb', 'Larger answers are not stored. Default `1mb`.', { default: DEFAULTS.max_entry }),
      key_headers: {
        description:
          'Request headers that are part of the key. Default `[authorization, x-api-key, api-key]` (every API\'s credential header), so callers with different credentials never ' +
          'share entries; `[]` shares answers between every caller. At most 32.',
        type: 'array',
        maxItems: 32,
        uniqueItems: true,
        items: { type: 'string', pattern: '^[A-Za-z0-9!#$%&\'*+.^_`|~-]+$' },
        default: DEFAULTS.key_headers,
      },
      scope: {
        description:
          'Keeps tenants apart by who they are rather than by a header: `key` (each caller key of `auth.keys`, or an ' +
          'identity a hook set) or `team` (the keys of a team share answers; a key without a team has its own). With a scope, ' +
          '`key_headers` defaults to `[]`, and requests with no identity are not cached.',
        enum: ['key', 'team'],
      },
      statuses: {
        description: 'Upstream statuses that are stored. Default `[200, 201, 400, 401]`.',
        type: 'array',
        uniqueItems: true,
        items: { type: 'integer', minimum: 100, maximum: 599 },
        default: DEFAULTS.statuses,
      },
    },
  },
  create: (config, deps) => new CacheStage(config, deps),
};
