import type { FeatureModule } from './feature.js';
import { ORDER } from './feature.js';
import type { CompileDeps } from '../pipeline/compile-deps.js';
import type { RequestContext } from '../pipeline/context.js';
import type { LocalReply, Stage } from '../pipeline/stage.js';
import type { HeaderMap, ResponseHead } from '../providers/provider.js';
import type { CacheEntry, CacheSpace } from '../state/store.js';
import { parseEvents } from '../upstream/sse.js';
import { headerValue } from '../upstream/headers.js';
import { parseDuration, parseSize } from '../util/units.js';
import { RequestKeyMemo } from '../pipeline/request-key.js';
import { slot } from '../pipeline/slot.js';
import { clientWantsStreamUsage, isUsageOnlyEvent } from './stream-usage.js';

export interface CacheConfig {
  ttl?: string;
  max_size?: string;
  max_entry?: string;
  key_headers?: string[];
  statuses?: number[];
}

const DEFAULTS = { ttl: '5m', max_size: '100mb', max_entry: '1mb', key_headers: ['authorization'], statuses: [200, 201, 400, 401] };

/** POST endpoints whose answers are cached (GET answers are cached on any path). */
const CACHEABLE_POSTS = new Set(['/v1/chat/completions', '/v1/completions', '/v1/embeddings']);

/** Request fields that change how an answer is delivered, not what it is: left out of the key. */
const DELIVERY_FIELDS = new Set(['stream', 'stream_options']);

/** Upstream headers never replayed: per-connection, per-response, or the gateway's own. */
const NOT_REPLAYED = new Set([
  'connection', 'keep-alive', 'transfer-encoding', 'content-length', 'date', 'set-cookie', 'age',
  'x-request-id', 'server-timing', 'x-cache', 'x-cache-timestamp',
  'x-ratelimit-limit-requests', 'x-ratelimit-remaining-requests', 'x-ratelimit-reset-requests',
  'x-ratelimit-limit-tokens', 'x-ratelimit-remaining-tokens', 'x-ratelimit-reset-tokens',
]);

const STATE = slot<CacheState>('cache');

/** X-Cache-Timestamp text per stored entry, formatted once (memory entries are reused on every hit). */
const TIMESTAMPS = new WeakMap<CacheEntry, string>();
function timestampOf(entry: CacheEntry): string {
  let text = TIMESTAMPS.get(entry);
  if (text === undefined) TIMESTAMPS.set(entry, (text = new Date(entry.storedAt).toISOString()));
  return text;
}
const SSE_TYPE = 'text/event-stream; charset=utf-8';
const DONE_EVENT = 'data: [DONE]\n\n';

/** A miss's answer being recorded as it streams to the client (chunks null: too big). */
interface Recording {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly kind: CacheEntry['kind'];
  chunks: Buffer[] | null;
  size: number;
}

interface CacheState {
  readonly key: string;
  readonly store: boolean;
  recording: Recording | null;
}

function isCacheable(ctx: RequestContext): boolean {
  if (ctx.method === 'GET') return true;
  if (ctx.method !== 'POST' || ctx.body === undefined) return false;
  const q = ctx.upstreamPath.indexOf('?');
  return CACHEABLE_POSTS.has(q < 0 ? ctx.upstreamPath : ctx.upstreamPath.slice(0, q));
}

function hasDirective(value: string | string[] | undefined, directive: string): boolean {
  const text = Array.isArray(value) ? value.join(',') : value;
  return text !== undefined && text.toLowerCase().includes(directive);
}

function replayHeaders(headers: HeaderMap): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || NOT_REPLAYED.has(name)) continue;
    out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/** A stored chat or text completion replayed as the stream the upstream would have sent. */
export function synthesizeStream(body: Buffer, withUsage: boolean): Buffer | null {
  let answer: Record<string, any>;
  try {
    answer = JSON.parse(body.toString('utf8'));
  } catch {
    return null;
  }
  const chat = answer?.object === 'chat.completion';
  if (!chat && answer?.object !== 'text_completion') return null;
  if (!Array.isArray(answer.choices)) return null;
  const base = {
    id: answer.id,
    object: chat ? 'chat.completion.chunk' : 'text_completion',
    created: answer.created,
    model: answer.model,
    ...(answer.system_fingerprint === undefined ? {} : { system_fingerprint: answer.system_fingerprint }),
  };
  const events: string[] = [];
  const send = (value: unknown): number => events.push(`data: ${JSON.stringify(value)}\n\n`);
  for (const choice of answer.choices as Record<string, any>[]) {
    if (chat) {
      const message = choice.message ?? {};
      const delta: Record<string, unknown> = { role: message.role ?? 'assistant', content: message.content ?? null };
      if (message.refusal != null) delta.refusal = message.refusal;
      if (Array.isArray(message.tool_calls)) delta.tool_calls = message.tool_calls.map((call: object, index: number) => ({ index, ...call }));
      send({ ...base, choices: [{ index: choice.index, delta, logprobs: choice.logprobs ?? null, finish_reason: null }] });
      send({ ...base, choices: [{ index: choice.index, delta: {}, logprobs: null, finish_reason: choice.finish_reason ?? 'stop' }] });
    } else {
      send({ ...base, choices: [{ index: choice.index, text: choice.text ?? '', logprobs: choice.logprobs ?? null, finish_reason: choice.finish_reason ?? 'stop' }] });
    }
  }
  if (withUsage && answer.usage) send({ ...base, choices: [], usage: answer.usage });
  events.push(DONE_EVENT);
  return Buffer.from(events.join(''));
}

/** A stream's events without the usage-only one, or null when it had none. */
function withoutUsage(body: Buffer): Buffer | null {
  const events = parseEvents(body);
  const kept = events.filter((e) => !isUsageOnlyEvent(e.data));
  return kept.length === events.length ? null : Buffer.concat(kept.map((e) => e.raw));
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
    const keyHeaders = Object.freeze((config.key_headers ?? DEFAULTS.key_headers).map((h) => h.toLowerCase()));
    this.keys = new RequestKeyMemo(keyHeaders, { salt: deps.routerFingerprint, skip: DELIVERY_FIELDS });
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

  private keyOf(ctx: RequestContext): string {
    return this.keys.keyOf(ctx);
  }

  onRequest(ctx: RequestContext): LocalReply | undefined | Promise<LocalReply | undefined> {
    if (!isCacheable(ctx)) return undefined;
    const cacheControl = ctx.req.headers['cache-control'];
    const key = this.keyOf(ctx);
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

  /**
   * What a hit sends: a stream replays its events (the usage event only if the client asked
   * for it); a JSON completion answers a streaming request as synthesized SSE; a stream
   * cannot answer a request for JSON (that is a miss, whose JSON answer is then stored).
   */
  private replay(ctx: RequestContext, entry: CacheEntry): { body: Buffer; contentType: string | null } | null {
    if (entry.kind === 'sse') {
      if (!ctx.stream) return null;
      return { body: clientWantsStreamUsage(ctx) ? entry.body : (entry.bodyNoUsage ?? entry.body), contentType: null };
    }
    if (ctx.stream && entry.kind === 'json' && entry.status === 200) {
      const body = synthesizeStream(entry.body, clientWantsStreamUsage(ctx));
      return body ? { body, contentType: SSE_TYPE } : null;
    }
    return { body: entry.body, contentType: null };
  }

  /** The LocalReply for a hit, or undefined (a miss: the request goes on). */
  private answer(ctx: RequestContext, entry: CacheEntry | undefined, now: number): LocalReply | undefined {
    const replay = entry ? this.replay(ctx, entry) : null;
    if (!entry || !replay) {
      this.results.miss.inc();
      ctx.res.setHeader('x-cache', 'MISS');
      return undefined;
    }
    this.results.hit.inc();
    const headers: Record<string, string> = {
      ...entry.headers,
      'x-cache': 'HIT',
      'x-cache-timestamp': timestampOf(entry),
      age: String(Math.max(0, Math.floor((now - entry.storedAt) / 1000))),
    };
    if (replay.contentType) headers['content-type'] = replay.contentType;
    return { status: entry.status, headers, body: replay.body };
  }

  /**
   * Decides whether to record the answer, at the cache's place on the response side: after
   * retries and fallbacks, and after every stage placed after the cache (interceptors) made
   * its edits, so a hit replays what a miss sent. Only upstream answers are stored, never a
   * reply an inner stage made (a block).
   */
  onResponse(ctx: RequestContext, response: ResponseHead): void {
    const state = ctx.get(STATE);
    if (!state?.store || ctx.replyDepth !== Infinity || !this.statuses.has(response.status)) return;
    if (hasDirective(response.headers['cache-control'], 'no-store')) return;
    const contentType = headerValue(response.headers['content-type']) ?? '';
    const kind: CacheEntry['kind'] = contentType.startsWith('text/event-stream') ? 'sse' : contentType.includes('json') ? 'json' : 'other';
    state.recording = { status: response.status, headers: replayHeaders(response.headers), kind, chunks: [], size: 0 };
  }

  /** Records the answer's bytes as they leave the stages after the cache (no extra stream on the way). */
  onData(ctx: RequestContext, chunk: Buffer): void {
    const recording = (ctx.get(STATE))?.recording;
    if (!recording?.chunks) return;
    recording.size += chunk.length;
    if (recording.size > this.maxEntry) recording.chunks = null;
    else recording.chunks.push(chunk);
  }

  /** Stores a recorded answer once the client received all of it. */
  onDone(ctx: RequestContext): void {
    const state = ctx.get(STATE);
    const recording = state?.recording;
    if (!state || !recording?.chunks || !ctx.completed || ctx.error) return;
    const body = Buffer.concat(recording.chunks, recording.size);
    const storedAt = this.now();
    void this.space.set(state.key, {
      status: recording.status,
      headers: recording.headers,
      body,
      bodyNoUsage: recording.kind === 'sse' ? withoutUsage(body) : null,
      kind: recording.kind,
      storedAt,
      expiresAt: storedAt + this.ttlMs,
    });
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
    `(entries up to ${config.max_entry ?? DEFAULTS.max_entry}), keyed by ${(config.key_headers ?? DEFAULTS.key_headers).join(', ') || 'no header'} and the body`,
  schema: {
    description:
      'Exact response cache. Key: SHA-256 of method, path, the `key_headers` and the body with its keys sorted (`stream` and ' +
      '`stream_options` aside, so a stored answer also serves the other delivery). Cached: GET, and POST to ' +
      '`/v1/chat/completions`, `/v1/completions`, `/v1/embeddings`. Streams are recorded and replayed as SSE; a stored JSON ' +
      'completion answers a streaming request as SSE too. Answers carry `X-Cache: HIT|MISS`, and hits `X-Cache-Timestamp` ' +
      'and `Age`. A request with `Cache-Control: no-cache` skips the lookup, `no-store` (request or response) skips storing. ' +
      '`DELETE /cache` on the admin listener empties it (`?router=<name>` for one router).',
    type: 'object',
    additionalProperties: false,
    properties: {
      ttl: { $ref: '#/$defs/duration', description: 'How long an entry is served. Default `5m`.', default: DEFAULTS.ttl },
      max_size: {
        $ref: '#/$defs/size',
        description:
          'The most bytes this router\'s entries may take (the real size of each entry); the least recently used go first. ' +
          'Default `100mb`. With the redis backend this bounds the local stand-in used while Redis is down; Redis itself ' +
          'is bounded by its own `maxmemory` policy.',
        default: DEFAULTS.max_size,
      },
      max_entry: { $ref: '#/$defs/size', description: 'Larger answers are not stored. Default `1mb`.', default: DEFAULTS.max_entry },
      key_headers: {
        description:
          'Request headers that are part of the key. Default `[authorization]`, so callers with different credentials never ' +
          'share entries; `[]` shares answers between every caller.',
        type: 'array',
        uniqueItems: true,
        items: { type: 'string', pattern: '^[A-Za-z0-9!#$%&\'*+.^_`|~-]+$' },
        default: DEFAULTS.key_headers,
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
