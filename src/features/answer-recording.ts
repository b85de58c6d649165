/**
 * Recording and replaying answers: what the exact cache and the semantic cache share. An
 * answer is recorded at its stage's place on the response side (so it holds what the inner
 * stages made of it), stored whole once the client received it, and replayed to a later
 * request as its delivery needs (a stored stream to a stream, a stored completion to a
 * stream as synthesized SSE, the usage event only for a client that asked for it).
 */
import type { RequestContext } from '../pipeline/context.js';
import type { LocalReply } from '../pipeline/stage.js';
import type { HeaderMap, ResponseHead } from '../providers/provider.js';
import type { CacheEntry } from '../state/store.js';
import { parseEvents } from '../upstream/sse.js';
import { anthropicEvent } from '../formats/anthropic.js';
import { headerValue } from '../upstream/headers.js';
import { clientWantsStreamUsage, isUsageOnlyEvent } from './stream-usage.js';
import { keptBytes } from '../util/kept-bytes.js';

/** POST endpoints whose answers are cached (GET answers are cached on any path). */
const CACHEABLE_POSTS = new Set(['/v1/chat/completions', '/v1/completions', '/v1/embeddings', '/v1/messages']);

/** Upstream headers never replayed: per-connection, per-response, or the gateway's own. */
export const NOT_REPLAYED = new Set([
  'connection', 'keep-alive', 'transfer-encoding', 'content-length', 'date', 'set-cookie', 'age',
  'x-request-id', 'server-timing', 'x-cache', 'x-cache-timestamp',
  'x-ratelimit-limit-requests', 'x-ratelimit-remaining-requests', 'x-ratelimit-reset-requests',
  'x-ratelimit-limit-tokens', 'x-ratelimit-remaining-tokens', 'x-ratelimit-reset-tokens',
]);

/** X-Cache-Timestamp text per stored entry, formatted once (memory entries are reused on every hit). */
const TIMESTAMPS = new WeakMap<CacheEntry, string>();
export function timestampOf(entry: CacheEntry): string {
  let text = TIMESTAMPS.get(entry);
  if (text === undefined) TIMESTAMPS.set(entry, (text = new Date(entry.storedAt).toISOString()));
  return text;
}
const SSE_TYPE = 'text/event-stream; charset=utf-8';
const DONE_EVENT = 'data: [DONE]\n\n';

/** A miss's answer being recorded as it streams to the client (chunks null: too big). */
export interface Recording {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly kind: CacheEntry['kind'];
  chunks: Buffer[] | null;
  size: number;
}

export function isCacheable(ctx: RequestContext): boolean {
  if (ctx.method === 'GET') return true;
  if (ctx.method !== 'POST' || !ctx.hasJsonBody) return false;
  const q = ctx.upstreamPath.indexOf('?');
  return CACHEABLE_POSTS.has(q < 0 ? ctx.upstreamPath : ctx.upstreamPath.slice(0, q));
}

export function hasDirective(value: string | string[] | undefined, directive: string): boolean {
  const text = Array.isArray(value) ? value.join(',') : value;
  return text !== undefined && text.toLowerCase().includes(directive);
}

export function replayHeaders(headers: HeaderMap): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || NOT_REPLAYED.has(name)) continue;
    out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/** A stored chat or text completion (or Anthropic message) replayed as the stream the upstream would have sent. */
export function synthesizeStream(body: Buffer, withUsage: boolean): Buffer | null {
  let answer: Record<string, any>;
  try {
    answer = JSON.parse(body.toString('utf8'));
  } catch {
    return null;
  }
  if (answer?.type === 'message' && Array.isArray(answer.content)) return messageStream(answer);
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

/** The events that stream one content block, or null for a block kind that is not replayed. */
function blockEvents(block: Record<string, any>, index: number): string[] | null {
  const around = (start: Record<string, unknown>, delta: Record<string, unknown>[]): string[] => [
    anthropicEvent('content_block_start', { index, content_block: start }),
    ...delta.map((d) => anthropicEvent('content_block_delta', { index, delta: d })),
    anthropicEvent('content_block_stop', { index }),
  ];
  if (block?.type === 'text' && typeof block.text === 'string') return around({ type: 'text', text: '' }, [{ type: 'text_delta', text: block.text }]);
  if (block?.type === 'tool_use') {
    return around({ type: 'tool_use', id: block.id, name: block.name, input: {} }, [{ type: 'input_json_delta', partial_json: JSON.stringify(block.input ?? {}) }]);
  }
  if (block?.type === 'thinking' && typeof block.thinking === 'string') {
    const deltas: Record<string, unknown>[] = [{ type: 'thinking_delta', thinking: block.thinking }];
    if (typeof block.signature === 'string') deltas.push({ type: 'signature_delta', signature: block.signature });
    return around({ type: 'thinking', thinking: '' }, deltas);
  }
  return null;
}

/**
 * A stored Anthropic message replayed as the stream the Messages API would have sent:
 * message_start, each content block whole (start, one delta, stop), message_delta with
 * the stop reason and output tokens, message_stop. Null when a block is of a kind that
 * is not replayed (the request is then a miss).
 */
function messageStream(message: Record<string, any>): Buffer | null {
  const usage = message.usage ?? {};
  const events = [
    anthropicEvent('message_start', {
      message: { id: message.id, type: 'message', role: message.role ?? 'assistant', model: message.model, content: [], stop_reason: null, stop_sequence: null, usage: { ...usage, output_tokens: 0 } },
    }),
  ];
  for (const [index, block] of (message.content as Record<string, any>[]).entries()) {
    const streamed = blockEvents(block, index);
    if (streamed === null) return null;
    events.push(...streamed);
  }
  events.push(
    anthropicEvent('message_delta', { delta: { stop_reason: message.stop_reason ?? 'end_turn', stop_sequence: message.stop_sequence ?? null }, usage: { output_tokens: usage.output_tokens ?? 0 } }),
    anthropicEvent('message_stop', {}),
  );
  return Buffer.from(events.join(''));
}

/** A stream's events without the usage-only one, or null when it had none. */
export function withoutUsage(body: Buffer): Buffer | null {
  const events = parseEvents(body);
  const kept = events.filter((e) => !isUsageOnlyEvent(e.data));
  return kept.length === events.length ? null : keptBytes(kept.map((e) => e.raw));
}


/** Starts recording an upstream answer whose status is stored, unless it says `no-store`. */
export function startRecording(ctx: RequestContext, head: ResponseHead, statuses: ReadonlySet<number>): Recording | null {
  if (ctx.replyDepth !== Infinity || !statuses.has(head.status)) return null;
  if (hasDirective(head.headers['cache-control'], 'no-store')) return null;
  const contentType = headerValue(head.headers['content-type']) ?? '';
  const kind: CacheEntry['kind'] = contentType.startsWith('text/event-stream') ? 'sse' : contentType.includes('json') ? 'json' : 'other';
  return { status: head.status, headers: replayHeaders(head.headers), kind, chunks: [], size: 0 };
}

/** Adds bytes to a recording; past `maxEntry` bytes the recording is dropped. */
export function recordChunk(recording: Recording, chunk: Buffer, maxEntry: number): void {
  if (!recording.chunks) return;
  recording.size += chunk.length;
  if (recording.size > maxEntry) recording.chunks = null;
  else recording.chunks.push(chunk);
}

/**
 * The entry a complete recording makes, or null (too big, or the answer did not complete).
 * `kept`: its body is memory of its own, to be stored as it is; false for an entry that is
 * encoded (copied) at once, whose body may share the recorded chunks' memory.
 */
export function finishRecording(ctx: RequestContext, recording: Recording | null, storedAt: number, ttlMs: number, kept = true): CacheEntry | null {
  if (!recording?.chunks || !ctx.completed || ctx.error) return null;
  const { chunks, size } = recording;
  const body = kept ? keptBytes(chunks, size) : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
  return {
    status: recording.status,
    headers: recording.headers,
    body,
    bodyNoUsage: recording.kind === 'sse' ? withoutUsage(body) : null,
    kind: recording.kind,
    storedAt,
    expiresAt: storedAt + ttlMs,
  };
}

/**
 * What a stored entry sends to this request: a stream replays its events (the usage event
 * only if the client asked for it); a JSON completion answers a streaming request as
 * synthesized SSE; a stream cannot answer a request for JSON (null: that is a miss).
 */
export function replayOf(ctx: RequestContext, entry: CacheEntry): { body: Buffer; contentType: string | null } | null {
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

/**
 * A replay's headers per stored entry, rebuilt only when its `Age` (whole seconds) or
 * `X-Cache` changes: memory entries are reused on every hit, which then copies nothing.
 */
const REPLY_HEADERS = new WeakMap<CacheEntry, { age: number; xCache: string; headers: Readonly<Record<string, string>> }>();
function replyHeaders(entry: CacheEntry, age: number, xCache: string): Readonly<Record<string, string>> {
  let made = REPLY_HEADERS.get(entry);
  if (made?.age !== age || made.xCache !== xCache) {
    const headers = { ...entry.headers, 'x-cache': xCache, 'x-cache-timestamp': timestampOf(entry), age: String(age) };
    REPLY_HEADERS.set(entry, (made = { age, xCache, headers: Object.freeze(headers) }));
  }
  return made.headers;
}

/** The LocalReply that answers from a stored entry, with `X-Cache`, `X-Cache-Timestamp` and `Age`. */
export function replyFrom(ctx: RequestContext, entry: CacheEntry, now: number, xCache: string, extra?: Record<string, string>): LocalReply | null {
  const replay = replayOf(ctx, entry);
  if (!replay) return null;
  let headers = replyHeaders(entry, Math.max(0, Math.floor((now - entry.storedAt) / 1000)), xCache);
  if (extra || replay.contentType) headers = { ...headers, ...extra, ...(replay.contentType ? { 'content-type': replay.contentType } : {}) };
  return { status: entry.status, headers, body: replay.body };
}
