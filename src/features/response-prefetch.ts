import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { FeatureModule } from './feature.js';
import { ORDER } from './feature.js';
import type { CompileDeps } from '../pipeline/compile-deps.js';
import type { RequestContext } from '../pipeline/context.js';
import type { SseEvent, Stage } from '../pipeline/stage.js';
import { slot } from '../pipeline/slot.js';
import { answerOfBody, StreamAnswer } from '../formats/conversation.js';
import { INJECT_DEPTH_HEADER } from '../server/inject.js';
import { contentText } from '../tokens/count.js';
// Warm-ups go through the gateway in process (inject): its engine loads with this module, never on a request.
import '../server/inject-engine.js';

export interface ResponsePrefetchConfig {
  follow_ups?: string[];
  learn?: { top?: number; min_count?: number; max_tracked?: number };
  max_per_minute?: number;
  concurrency?: number;
  forward_headers?: string[];
}

const DEFAULTS = { top: 2, min_count: 2, max_tracked: 5000, max_per_minute: 30, concurrency: 2, forward_headers: ['authorization', 'x-api-key', 'api-key'] };
/** Follow-ups learned per prompt, at most (the most frequent are kept). */
const MAX_NEXT = 16;
/** Texts longer than this are not followed (a prefetch is for short, common follow-ups). */
const MAX_TEXT = 2000;

type Json = Record<string, unknown>;

interface PrefetchState {
  /** The conversation as the client sent it. */
  readonly messages: Json[];
  readonly lastUser: string;
  readonly stream: StreamAnswer | null;
  /** The assistant message of a non-streamed answer, as the client receives it. */
  answer: Json | null;
}
const STATE = slot<PrefetchState>('response_prefetch');

function textKey(text: string): string {
  return createHash('sha256').update(text.trim().toLowerCase()).digest('hex').slice(0, 24);
}

function userText(message: unknown): string | null {
  const m = message as Json | null;
  if (!m || m.role !== 'user') return null;
  const { text, images } = contentText(m.content);
  return images === 0 && text.trim() && text.length <= MAX_TEXT ? text : null;
}

/**
 * `response_prefetch`: while the client reads an answer, the gateway asks the same router
 * the likely next question, so the cache (`cache` or `semantic_cache`, which the router must
 * have) already holds its answer: the configured `follow_ups`, and with `learn` the most
 * frequent next turns seen after the same user turn. The warming requests run in the
 * background through the router's own pipeline (with the caller's credential headers, so
 * they are cached for the same tenant), bounded by `max_per_minute` and `concurrency`, never
 * for requests that are themselves prefetches, and never ahead of a client's request.
 */
class ResponsePrefetchStage implements Stage {
  readonly name = 'response_prefetch';
  private readonly followUps: readonly string[];
  private readonly learn: { top: number; minCount: number } | null;
  private readonly next: LRUCache<string, Map<string, { text: string; count: number }>> | null;
  private readonly forward: readonly string[];
  private readonly maxPerMinute: number;
  private readonly concurrency: number;
  private inFlight = 0;
  private windowStart = 0;
  private windowCount = 0;
  private readonly counts = { sent: 0, skipped: 0, failed: 0 };
  private readonly sent: { inc(): void };

  constructor(config: ResponsePrefetchConfig, private readonly deps: CompileDeps) {
    this.followUps = Object.freeze([...(config.follow_ups ?? [])]);
    this.learn = config.learn ? { top: config.learn.top ?? DEFAULTS.top, minCount: config.learn.min_count ?? DEFAULTS.min_count } : null;
    this.next = config.learn ? new LRUCache({ max: config.learn.max_tracked ?? DEFAULTS.max_tracked }) : null;
    this.forward = Object.freeze((config.forward_headers ?? DEFAULTS.forward_headers).map((h) => h.toLowerCase()));
    this.maxPerMinute = config.max_per_minute ?? DEFAULTS.max_per_minute;
    this.concurrency = config.concurrency ?? DEFAULTS.concurrency;
    this.sent = deps.metrics.localCounter('ai_gateway_prefetch_requests_total', 'Follow-up requests sent ahead of the client to warm the cache, by router.', ['router']).child(deps.routerName);
  }

  onRequest(ctx: RequestContext): void {
    const body = ctx.body;
    if (ctx.req.headers[INJECT_DEPTH_HEADER] !== undefined || body === undefined || ctx.method !== 'POST') return;
    if (ctx.format.name !== 'openai' || !ctx.upstreamPath.startsWith('/v1/chat/completions')) return;
    const messages = body.messages;
    if (!Array.isArray(messages) || messages.length === 0) return;
    const lastUser = userText(messages[messages.length - 1]);
    if (lastUser === null) return;
    if (this.next) this.observe(messages as Json[], lastUser);
    ctx.set(STATE, { messages: messages as Json[], lastUser, stream: ctx.stream ? new StreamAnswer('openai') : null, answer: null });
  }

  /** Learns "after this user turn came that one" from a conversation: [..., user A, assistant, user B]. */
  private observe(messages: Json[], lastUser: string): void {
    for (let i = messages.length - 2; i >= 0; i--) {
      const previous = userText(messages[i]);
      if (previous === null) continue;
      const key = textKey(previous);
      let seen = this.next!.get(key);
      if (!seen) this.next!.set(key, (seen = new Map()));
      const entry = seen.get(textKey(lastUser));
      if (entry) entry.count++;
      else if (seen.size < MAX_NEXT) seen.set(textKey(lastUser), { text: lastUser, count: 1 });
      return;
    }
  }

  onResponseBody(ctx: RequestContext, body: unknown): undefined {
    const state = ctx.get(STATE);
    if (!state || state.stream) return undefined;
    const choice = (body as { choices?: { message?: Json }[] } | null)?.choices?.[0];
    if (choice?.message && answerOfBody('openai', body) && !Array.isArray(choice.message.tool_calls)) state.answer = choice.message;
    return undefined;
  }

  onChunk(ctx: RequestContext, event: SseEvent): undefined {
    const stream = ctx.get(STATE)?.stream;
    if (stream && stream.size < 1 << 20) stream.push(event);
    return undefined;
  }

  onDone(ctx: RequestContext): void {
    const state = ctx.get(STATE);
    if (!state || !ctx.completed || ctx.status !== 200 || ctx.error) return;
    const answer = state.stream ? (state.stream.toolCalls ? null : { role: 'assistant', content: state.stream.text }) : state.answer;
    if (!answer) return;
    const candidates = [...this.followUps, ...this.learned(state.lastUser)];
    if (candidates.length === 0) return;
    const headers: Record<string, string> = {};
    for (const name of this.forward) {
      const value = ctx.req.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    const body = { ...ctx.body, stream: false, messages: [...state.messages, answer] };
    delete (body as Json).stream_options;
    for (const text of new Set(candidates)) this.warm(headers, { ...body, messages: [...body.messages, { role: 'user', content: text }] });
  }

  private learned(lastUser: string): string[] {
    const seen = this.next?.get(textKey(lastUser));
    if (!seen || !this.learn) return [];
    return [...seen.values()]
      .filter((e) => e.count >= this.learn!.minCount)
      .sort((a, b) => b.count - a.count)
      .slice(0, this.learn.top)
      .map((e) => e.text);
  }

  /** Sends one warming request in the background, within the rate and concurrency bounds. */
  private warm(headers: Record<string, string>, body: Json): void {
    const now = this.deps.now();
    if (now - this.windowStart >= 60_000) {
      this.windowStart = now;
      this.windowCount = 0;
    }
    if (this.inFlight >= this.concurrency || this.windowCount >= this.maxPerMinute) {
      this.counts.skipped++;
      return;
    }
    this.inFlight++;
    this.windowCount++;
    this.counts.sent++;
    this.sent.inc();
    this.deps
      .inject({ url: `/router/${encodeURIComponent(this.deps.routerName)}/v1/chat/completions`, headers, body })
      .then(
        (res) => {
          if (res.status !== 200) this.counts.failed++;
        },
        (err: unknown) => {
          this.counts.failed++;
          this.deps.logger.debug({ err, router: this.deps.routerName }, 'response_prefetch: a warming request failed');
        },
      )
      .finally(() => this.inFlight--);
  }

  stats(): Record<string, unknown> {
    return { ...this.counts, in_flight: this.inFlight, learned_prompts: this.next?.size ?? 0 };
  }
}

export const responsePrefetch: FeatureModule<ResponsePrefetchConfig> = {
  name: 'response_prefetch',
  order: ORDER.response_prefetch,
  describe: (c) =>
    `warms the cache with follow-ups (${[...(c.follow_ups ?? []).map((f) => JSON.stringify(f)), ...(c.learn ? [`the ${c.learn.top ?? DEFAULTS.top} most frequent next turns`] : [])].join(', ') || 'none'}), at most ${c.max_per_minute ?? DEFAULTS.max_per_minute} a minute, ${c.concurrency ?? DEFAULTS.concurrency} at once`,
  schema: {
    description:
      'While the client reads an answer, asks the same router the likely next question in the background, so the router\'s ' +
      '`cache` or `semantic_cache` already holds its answer when the client asks it (the router needs one of them). ' +
      'Follow-ups are the configured `follow_ups` and, with `learn`, the most frequent next user turns seen after the same ' +
      'one. OpenAI chat completions only. Bounded by `max_per_minute` and `concurrency`.',
    type: 'object',
    additionalProperties: false,
    properties: {
      follow_ups: {
        description: 'User turns to ask after every answer, e.g. `["Tell me more."]`.',
        type: 'array',
        maxItems: 10,
        items: { type: 'string', minLength: 1, maxLength: MAX_TEXT },
      },
      learn: {
        description: 'Learn follow-ups from traffic: after a user turn, the next turns seen after it most often.',
        type: 'object',
        additionalProperties: false,
        properties: {
          top: { description: 'How many learned follow-ups to ask (1 to 5). Default 2.', type: 'integer', minimum: 1, maximum: 5, default: DEFAULTS.top },
          min_count: { description: 'Seen at least this often (1 to 1000). Default 2.', type: 'integer', minimum: 1, maximum: 1000, default: DEFAULTS.min_count },
          max_tracked: { description: 'User turns remembered (100 to 100000). Default 5000.', type: 'integer', minimum: 100, maximum: 100_000, default: DEFAULTS.max_tracked },
        },
      },
      max_per_minute: { description: 'Warming requests per minute at most (1 to 10000): the prefetch budget. Default 30.', type: 'integer', minimum: 1, maximum: 10_000, default: DEFAULTS.max_per_minute },
      concurrency: { description: 'Warming requests in flight at most (1 to 64). Default 2.', type: 'integer', minimum: 1, maximum: 64, default: DEFAULTS.concurrency },
      forward_headers: {
        description: 'The caller\'s headers sent with the warming requests (they key the cache per tenant). Default `[authorization, x-api-key, api-key]`.',
        type: 'array',
        maxItems: 16,
        items: { type: 'string', pattern: '^[A-Za-z0-9!#$%&\'*+.^_`|~-]+$' },
        default: DEFAULTS.forward_headers,
      },
    },
  },
  create: (config, deps) => new ResponsePrefetchStage(config, deps),
};
