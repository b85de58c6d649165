import { hash } from 'node:crypto';
import { bounded } from '../config/ranges.js';
import type { FeatureModule } from './feature.js';
import { ORDER } from './feature.js';
import type { CompileDeps } from '../pipeline/compile-deps.js';
import type { RequestContext } from '../pipeline/context.js';
import type { LocalReply, Stage } from '../pipeline/stage.js';
import type { ResponseHead } from '../providers/provider.js';
import { canonicalJson } from '../pipeline/request-key.js';
import { slot } from '../pipeline/slot.js';
import { EMBEDDER_SCHEMA, LOCAL_DEFAULT_THRESHOLD, type Embedder, type EmbedderSpec } from '../embeddings/index.js';
import { decodeEntry, encodeEntry } from '../state/entry-codec.js';
import type { VectorSpace } from '../state/vector-space.js';
import { contentText } from '../tokens/count.js';
import { parseDuration, parseSize } from '../util/units.js';
import { finishRecording, hasDirective, recordChunk, replyFrom, startRecording, type Recording } from './answer-recording.js';

export interface SemanticCacheConfig {
  embedder?: EmbedderSpec;
  threshold?: number;
  ttl?: string;
  max_entries?: number;
  max_size?: string;
  max_entry?: string;
  key_headers?: string[];
  allow_temperature?: boolean;
}

const DEFAULTS = {
  embedder: 'local' as EmbedderSpec,
  /** Upstream embedders (real sentence models) place paraphrases higher than the local one does. */
  upstreamThreshold: 0.9,
  ttl: '1h',
  max_entries: 1000,
  max_size: '50mb',
  max_entry: '1mb',
  key_headers: ['authorization'],
};

/** Endpoints whose prompts are compared by meaning: the chat APIs of both formats and completions. */
const SEMANTIC_POSTS = new Set(['/v1/chat/completions', '/v1/messages', '/v1/completions']);
/** Fields that only change the delivery, and the prompt itself (compared by meaning, not bytes). */
const NOT_IN_SCOPE = new Set(['stream', 'stream_options']);

interface SemanticState {
  readonly scope: string;
  readonly id: string;
  readonly vector: Float32Array;
  recording: Recording | null;
}
const STATE = slot<SemanticState>('semantic_cache');
const NO_VECTOR = new Float32Array(0);

/**
 * The prompt compared by meaning (the last user turn, or a completion's prompt) and the
 * body without it, which must match exactly: the system prompt, earlier turns, the model
 * and every parameter. Null when the request has no such prompt.
 */
export function splitPrompt(body: Record<string, unknown>): { text: string; rest: Record<string, unknown> } | null {
  if (typeof body.prompt === 'string') {
    const { prompt, ...rest } = body;
    return prompt.trim() ? { text: prompt, rest } : null;
  }
  const messages = body.messages;
  if (!Array.isArray(messages) || messages.length === 0) return null;
  const last = messages[messages.length - 1] as Record<string, unknown> | null;
  if (!last || last.role !== 'user') return null;
  const { text, images } = contentText(last.content);
  if (!text.trim() || images > 0) return null; // an image is not compared by its words
  return { text, rest: { ...body, messages: [...messages.slice(0, -1), { ...last, content: null }] } };
}

/**
 * `semantic_cache`: answers from a stored answer whose prompt means the same, by cosine
 * similarity of embeddings at or above `threshold`. Scoped like the exact cache (the
 * `key_headers`, the router's targets, the path and format) and by everything in the
 * request but the last user turn, which must match exactly; requests sampled with
 * `temperature` > 0 are left alone unless `allow_temperature`. The exact cache (400) is
 * asked first; this one sits right after it (420). Entries live in the state store's
 * vector space (Redis shares them between replicas).
 */
class SemanticCacheStage implements Stage {
  readonly name = 'semantic_cache';
  private readonly embedder: Embedder;
  private readonly threshold: number;
  private readonly ttlMs: number;
  private readonly maxEntry: number;
  private readonly keyHeaders: readonly string[];
  private readonly space: VectorSpace;
  private readonly statuses: ReadonlySet<number> = new Set([200]);
  private readonly results: Record<'hit' | 'miss' | 'bypass' | 'error', { inc(): void }>;
  private readonly embedSeconds: { inc(by: number): void };
  private errorLogged = false;

  constructor(
    private readonly config: SemanticCacheConfig,
    private readonly deps: CompileDeps,
  ) {
    const spec = config.embedder ?? DEFAULTS.embedder;
    this.embedder = deps.embedders.get(spec);
    this.threshold = config.threshold ?? (spec === 'local' ? LOCAL_DEFAULT_THRESHOLD : DEFAULTS.upstreamThreshold);
    this.ttlMs = parseDuration(config.ttl ?? DEFAULTS.ttl);
    this.maxEntry = parseSize(config.max_entry ?? DEFAULTS.max_entry);
    this.keyHeaders = Object.freeze((config.key_headers ?? DEFAULTS.key_headers).map((h) => h.toLowerCase()));
    this.space = deps.state.vectorSpace(`semantic:${deps.routerName}:${this.embedder.id}`, {
      maxPerScope: config.max_entries ?? DEFAULTS.max_entries,
      maxBytes: parseSize(config.max_size ?? DEFAULTS.max_size),
    });
    const requests = deps.metrics.localCounter('ai_gateway_semantic_cache_requests_total', 'Requests the semantic cache looked at, by router and result (hit, miss, bypass, error).', ['router', 'result']);
    this.results = {
      hit: requests.child(deps.routerName, 'hit'),
      miss: requests.child(deps.routerName, 'miss'),
      bypass: requests.child(deps.routerName, 'bypass'),
      error: requests.child(deps.routerName, 'error'),
    };
    this.embedSeconds = deps.metrics.localCounter('ai_gateway_embedding_seconds_total', 'Time spent embedding prompts, by router and feature.', ['router', 'feature']).child(deps.routerName, 'semantic_cache');
  }

  private scopeOf(ctx: RequestContext, rest: Record<string, unknown>): string {
    let text = `${ctx.format.name}\0${ctx.method}\0${ctx.upstreamPath}\0${this.deps.routerFingerprint}\0`;
    for (const name of this.keyHeaders) {
      const value = ctx.req.headers[name];
      text += `${name}\0${Array.isArray(value) ? value.join('\n') : (value ?? '')}\0`;
    }
    return hash('sha256', text + canonicalJson(rest, NOT_IN_SCOPE), 'hex');
  }

  async onRequest(ctx: RequestContext): Promise<LocalReply | undefined> {
    const body = ctx.body;
    if (ctx.method !== 'POST' || body === undefined || !SEMANTIC_POSTS.has(ctx.upstreamPath.split('?', 1)[0]!)) return undefined;
    const sampled = typeof body.temperature === 'number' && body.temperature > 0;
    const prompt = sampled && !this.config.allow_temperature ? null : splitPrompt(body);
    if (!prompt) {
      this.results.bypass.inc();
      return undefined;
    }
    const scope = this.scopeOf(ctx, prompt.rest);
    let vector: Float32Array;
    const started = performance.now();
    try {
      [vector] = (await this.embedder.embed([prompt.text])) as [Float32Array];
    } catch (err) {
      this.results.error.inc();
      if (!this.errorLogged) this.deps.logger.warn({ err, router: this.deps.routerName }, 'semantic_cache: the embedder failed; requests go on uncached');
      this.errorLogged = true;
      return undefined;
    } finally {
      this.embedSeconds.inc((performance.now() - started) / 1000);
    }
    const cacheControl = ctx.req.headers['cache-control'];
    const id = hash('sha256', prompt.text, 'hex').slice(0, 32);
    // `no-store`: looked up, never stored (an empty vector marks it).
    ctx.set(STATE, { scope, id, vector: hasDirective(cacheControl, 'no-store') ? NO_VECTOR : vector, recording: null });
    if (hasDirective(cacheControl, 'no-cache')) {
      this.results.bypass.inc();
      return undefined;
    }
    const now = this.deps.now();
    const found = this.space.search(scope, vector, 1, this.threshold, now);
    const [best] = found instanceof Promise ? await found : found;
    const reply = best ? replyFrom(ctx, decodeEntry(best.record.value), now, 'SEMANTIC_HIT', { 'x-sidegate-similarity': best.score.toFixed(4) }) : null;
    if (!reply) {
      this.results.miss.inc();
      return undefined;
    }
    this.results.hit.inc();
    return reply;
  }

  onResponse(ctx: RequestContext, response: ResponseHead): void {
    const state = ctx.get(STATE);
    if (state && state.vector.length > 0) state.recording = startRecording(ctx, response, this.statuses);
  }

  onData(ctx: RequestContext, chunk: Buffer): void {
    const recording = ctx.get(STATE)?.recording;
    if (recording) recordChunk(recording, chunk, this.maxEntry);
  }

  onDone(ctx: RequestContext): void {
    const state = ctx.get(STATE);
    if (!state) return;
    const entry = finishRecording(ctx, state.recording, this.deps.now(), this.ttlMs, false); // encodeEntry copies it
    if (!entry) return;
    this.space.add(state.scope, { id: state.id, vector: state.vector, value: encodeEntry(entry), storedAt: entry.storedAt, expiresAt: entry.expiresAt });
  }

  stats(): Record<string, unknown> {
    return { embedder: this.embedder.id, threshold: this.threshold, ttl: this.config.ttl ?? DEFAULTS.ttl, ...this.space.stats() };
  }
}

export const semanticCache: FeatureModule<SemanticCacheConfig> = {
  name: 'semantic_cache',
  order: ORDER.semantic_cache,
  describe(c) {
    const spec = c.embedder ?? DEFAULTS.embedder;
    const threshold = c.threshold ?? (spec === 'local' ? LOCAL_DEFAULT_THRESHOLD : DEFAULTS.upstreamThreshold);
    return `semantic cache: the last user turn compared by meaning (${spec === 'local' ? 'local embedder' : `${spec.upstream} ${spec.model}`}, similarity ≥ ${threshold}), the rest of the request exactly, ttl ${c.ttl ?? DEFAULTS.ttl}`;
  },
  schema: {
    description:
      'Answers from a stored answer whose prompt means the same: the last user turn (or a completion\'s prompt) is embedded and ' +
      'compared by cosine similarity; everything else in the request (system prompt, earlier turns, model, parameters, the ' +
      '`key_headers`) must match exactly. The exact `cache` is asked first. Hits carry `X-Cache: SEMANTIC_HIT` and ' +
      '`X-Sidegate-Similarity`; streams are recorded and replayed as for the exact cache. Requests with `temperature` > 0 are ' +
      'left alone unless `allow_temperature`. With the redis state backend, replicas share the entries.',
    type: 'object',
    additionalProperties: false,
    properties: {
      embedder: { ...EMBEDDER_SCHEMA, default: 'local' },
      threshold: {
        description: `The similarity (0 to 1) at or above which a stored answer is served. Default ${LOCAL_DEFAULT_THRESHOLD} with the local embedder, ${DEFAULTS.upstreamThreshold} with an upstream one.`,
        type: 'number',
        minimum: 0,
        maximum: 1,
      },
      ttl: bounded('duration', '1ms', '30d', 'How long an entry is served. Default `1h`.', { default: DEFAULTS.ttl }),
      max_entries: {
        description:
          'Entries kept per scope (tenant and exact request part), the oldest going first (1 to 10000). Default 1000. A lookup ' +
          'compares the prompt with every entry of its scope (exact cosine): about half a millisecond per thousand entries.',
        type: 'integer',
        minimum: 1,
        maximum: 10_000,
        default: DEFAULTS.max_entries,
      },
      max_size: bounded('size', '1kb', '16gb', 'The most bytes the router\'s entries may take in this process, vectors included. Default `50mb`.', { default: DEFAULTS.max_size }),
      max_entry: bounded('size', '1b', '1gb', 'Larger answers are not stored. Default `1mb`.', { default: DEFAULTS.max_entry }),
      key_headers: {
        description: 'Request headers that scope the entries (default `[authorization]`: callers with different credentials never share).',
        type: 'array',
        uniqueItems: true,
        maxItems: 16,
        items: { type: 'string', pattern: '^[A-Za-z0-9!#$%&\'*+.^_`|~-]+$' },
        default: DEFAULTS.key_headers,
      },
      allow_temperature: { description: 'Also answer requests sampled with `temperature` > 0 (their answers vary by design). Default false.', type: 'boolean', default: false },
    },
  },
  create: (config, deps) => new SemanticCacheStage(config, deps),
};
