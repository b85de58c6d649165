import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { GatewayError } from '../errors.js';
import type { HeaderMap, ResponseHead, UpstreamResponse } from '../providers/provider.js';
import { clientResponseHeaders, headerValue } from '../upstream/headers.js';
import { EventSplitter, parseEvents } from '../upstream/sse.js';
import { TailBuffer, usageOf, type Usage } from '../upstream/usage.js';
import { heldBytes, takeParsed } from '../upstream/held-body.js';
import { MAX_HELD_ANSWER, readAnswerWhole } from '../upstream/read-whole.js';
import type { RequestContext } from './context.js';
import type { BodyStep, Phases } from './phases.js';
import type { LocalReply, MaybePromise, SseEvent } from './stage.js';
import { drained } from '../util/drained.js';

/** Writes one chunk to the client; returns a promise only when it must wait (backpressure). */
function write(ctx: RequestContext, chunk: Buffer): Promise<void> | undefined {
  if (ctx.ttfbMs < 0) ctx.ttfbMs = performance.now() - ctx.startedAt;
  ctx.bytesOut += chunk.length;
  return ctx.res.write(chunk) ? undefined : drained(ctx.res);
}

/** The gateway's own milliseconds so far: time since arrival less the upstream's time to headers. */
function ownTime(ctx: RequestContext): number {
  return performance.now() - ctx.startedAt - (ctx.upstreamMs < 0 ? 0 : ctx.upstreamMs);
}

/**
 * `Server-Timing`: the gateway's own time (`own`) and the upstream's time to headers, in
 * ms to the microsecond. `toFixed`, not `${n}`: V8 keeps every number it turns into a
 * string in a cache, and two fresh fractions per request held there are promoted to the
 * old generation, where they pile up until the next full GC.
 */
function serverTiming(ctx: RequestContext, own: number): string {
  const upstream = ctx.upstreamMs < 0 ? 0 : ctx.upstreamMs;
  return `gateway;dur=${own.toFixed(3)}, upstream;dur=${upstream.toFixed(3)}`;
}

/** The headers every answer carries: request id, timing and, once a target was tried, which and how often. */
function gatewayHeaders(ctx: RequestContext, headers: OutgoingHttpHeaders, own: number): void {
  headers['x-request-id'] = ctx.id;
  headers['server-timing'] = serverTiming(ctx, own);
  if (ctx.attempts.length > 0) {
    if (ctx.target) headers['x-sidegate-target'] = ctx.target.upstream.name;
    headers['x-sidegate-attempts'] = String(ctx.attempts.length);
  }
}

/**
 * Ends a request with a gateway error, in the caller's API format. Before the head is
 * sent that is a JSON error; after it, a stream gets a final SSE `error` event and
 * anything else is cut.
 */
export function sendError(ctx: RequestContext, error: GatewayError, phases: Phases | null): void {
  ctx.error = error;
  if (phases?.onError) for (const handler of phases.onError) handler(ctx, error);
  const res = ctx.res;
  if (res.destroyed || res.writableEnded) return;
  if (res.headersSent) {
    if (ctx.responseIsSse) res.end(ctx.format.errorEvent(error, ctx.id));
    else res.destroy(error);
    return;
  }
  const rendered = ctx.format.renderError(error, ctx.id);
  ctx.status = rendered.status;
  // The rest of a refused upload is read and dropped (within server.timeouts.body), so the
  // client, still sending, gets to read this answer instead of a reset connection.
  if (error.status === 413) ctx.req.resume();
  const headers: OutgoingHttpHeaders = { ...error.headers, 'content-type': 'application/json', 'content-length': rendered.body.length };
  gatewayHeaders(ctx, headers, ownTime(ctx));
  res.writeHead(rendered.status, headers);
  ctx.bytesOut = rendered.body.length;
  res.end(rendered.body);
}

function isClientGone(ctx: RequestContext): boolean {
  return ctx.clientClosed || ctx.res.destroyed;
}

/** An error raised while the body was flowing, as the client should hear of it. */
function midStreamError(ctx: RequestContext, err: unknown): GatewayError {
  const reason = ctx.abortedBy();
  if (reason) return reason;
  if (err instanceof GatewayError) return err;
  const code = (err as { code?: string }).code;
  const upstream = ctx.target?.upstream.name ?? 'upstream';
  if (code === 'UND_ERR_BODY_TIMEOUT') return new GatewayError('upstream_timeout', `upstream "${upstream}" stopped sending (${code})`, { cause: err });
  return new GatewayError('stream_error', `upstream "${upstream}" ended the stream early${code ? ` (${code})` : ''}`, { cause: err });
}

function observeAll(ctx: RequestContext, steps: readonly BodyStep[] | null, chunk: Buffer): void {
  if (steps) for (const step of steps) if (step.data) step.data(ctx, chunk);
}

function joinEvents(events: readonly SseEvent[]): Buffer {
  return events.length === 1 ? events[0]!.raw : Buffer.concat(events.map((e) => e.raw));
}

/** Passes events through one step's chunk handler (synchronous handlers are not awaited). */
async function mapEvents(ctx: RequestContext, step: BodyStep, events: SseEvent[]): Promise<SseEvent[]> {
  const out: SseEvent[] = [];
  for (const event of events) {
    let result = step.chunk!(ctx, event);
    if (result instanceof Promise) result = await result;
    if (result === undefined) out.push(event);
    else if (result === null) continue;
    else if (Array.isArray(result)) out.push(...(result as SseEvent[]));
    else out.push(result as SseEvent);
  }
  return out;
}

/** Events outward through the steps: each step may transform them, and an observer sees them as they leave it. */
async function throughSteps(ctx: RequestContext, steps: readonly BodyStep[], events: SseEvent[]): Promise<SseEvent[]> {
  for (const step of steps) {
    if (step.chunk && events.length) events = await mapEvents(ctx, step, events);
    if (step.data && events.length) step.data(ctx, joinEvents(events));
  }
  return events;
}

/** The end of a stream, outward: each step gets what inner steps still held, then adds what it holds. */
async function flushSteps(ctx: RequestContext, steps: readonly BodyStep[]): Promise<SseEvent[]> {
  let events: SseEvent[] = [];
  for (const step of steps) {
    if (step.chunk && events.length) events = await mapEvents(ctx, step, events);
    if (step.end) {
      let held = step.end(ctx);
      if (held instanceof Promise) held = await held;
      if (held && held.length) events = [...events, ...held];
    }
    if (step.data && events.length) step.data(ctx, joinEvents(events));
  }
  return events;
}

/** The client's bytes for a run of whole upstream events. */
async function eventsOut(ctx: RequestContext, steps: readonly BodyStep[], bytes: Buffer): Promise<Buffer | null> {
  const events = await throughSteps(ctx, steps, parseEvents(bytes));
  return events.length ? joinEvents(events) : null;
}

/** A body as it comes: a stream from an upstream, or the bytes of a reply made here. */
type Source = Readable | Buffer;

async function* chunksOf(source: Source): AsyncIterable<Buffer> {
  if (Buffer.isBuffer(source)) yield source;
  else yield* source as AsyncIterable<Buffer>;
}

/** Sends bytes in hand as the whole body, past the steps' observers. */
function sendBytes(ctx: RequestContext, source: Buffer, tail: TailBuffer | null, steps: readonly BodyStep[] | null): void {
  tail?.push(source);
  observeAll(ctx, steps, source);
  if (ctx.ttfbMs < 0) ctx.ttfbMs = performance.now() - ctx.startedAt;
  ctx.bytesOut += source.length;
  ctx.res.end(source);
}

/** Forwards a body stream chunk by chunk, with backpressure, past the steps' observers. */
async function forwardStream(ctx: RequestContext, source: Readable, tail: TailBuffer | null, steps: readonly BodyStep[] | null): Promise<void> {
  for await (const chunk of source as AsyncIterable<Buffer>) {
    tail?.push(chunk);
    observeAll(ctx, steps, chunk);
    const wait = write(ctx, chunk);
    if (wait) await wait;
    if (ctx.res.destroyed) return;
  }
  ctx.res.end();
}

/** Forwards a stream event by event as they arrive, through the steps: only whole events reach the client. */
async function forwardEvents(ctx: RequestContext, source: Source, tail: TailBuffer, steps: readonly BodyStep[]): Promise<void> {
  const splitter = new EventSplitter(ctx.pipeline.limits.maxEvent);
  for await (const chunk of chunksOf(source)) {
    const whole = splitter.push(chunk);
    if (whole === null) continue;
    tail.push(whole); // usage is read from what the upstream sent, even if a stage hides it
    const out = await eventsOut(ctx, steps, whole);
    if (out === null) continue;
    const wait = write(ctx, out);
    if (wait) await wait;
    if (ctx.res.destroyed) return;
  }
  const rest = splitter.rest();
  if (rest) {
    tail.push(rest);
    const out = await eventsOut(ctx, steps, rest);
    if (out) write(ctx, out);
  }
  const held = await flushSteps(ctx, steps);
  if (held.length) write(ctx, joinEvents(held));
  ctx.res.end();
}

function collect(ctx: RequestContext, source: Source): Promise<Buffer> | Buffer {
  if (Buffer.isBuffer(source)) return source;
  const upstream = ctx.target?.upstream.name ?? 'upstream';
  return readAnswerWhole(
    source,
    MAX_HELD_ANSWER,
    () => new GatewayError('upstream_error', `upstream "${upstream}" sent an answer larger than ${MAX_HELD_ANSWER} bytes, too large to read whole for the stages that rewrite answers`),
  );
}

/** A JSON answer, parsed once and passed outward through the steps' body handlers. */
async function forwardParsed(ctx: RequestContext, source: Source, headers: OutgoingHttpHeaders, steps: readonly BodyStep[]): Promise<void> {
  const raw = await collect(ctx, source);
  let out = raw;
  let value = takeParsed(raw); // a check that held this answer parsed it already
  if (value === undefined) {
    try {
      value = JSON.parse(raw.toString('utf8'));
    } catch {
      value = undefined; // not JSON after all: forwarded as it came
    }
  }
  let stale = false; // `out` no longer matches `value`
  for (const step of steps) {
    if (step.body && value !== undefined) {
      let replaced = step.body(ctx, value);
      if (replaced instanceof Promise) replaced = await replaced;
      if (replaced !== undefined) {
        value = replaced;
        stale = true;
      }
    }
    if (step.data) {
      if (stale) out = Buffer.from(JSON.stringify(value));
      stale = false;
      step.data(ctx, out);
    }
  }
  if (stale) out = Buffer.from(JSON.stringify(value));
  const tail = new TailBuffer();
  tail.push(out);
  readUsage(ctx, tail);
  headers['content-length'] = out.length;
  ctx.res.writeHead(ctx.status, headers);
  write(ctx, out);
  ctx.res.end();
}

/** Reads the usage an answer's bytes report into the request (and the trace); returns it. */
function readUsage(ctx: RequestContext, tail: TailBuffer): Usage {
  const usage = usageOf(ctx.format.name, tail);
  setUsage(ctx, usage);
  if (ctx.trace !== null) ctx.trace.readTail(tail.text());
  return usage;
}

function setUsage(ctx: RequestContext, usage: Usage): void {
  ctx.promptTokens = usage.prompt;
  ctx.completionTokens = usage.completion;
  ctx.cachedTokens = usage.cached;
  ctx.cacheWriteTokens = usage.cacheWrite;
}

/**
 * The usage of a reply's bytes, read once per Buffer: a memory cache replays the same
 * Buffer on every hit, and its usage is the same each time. Keyed weakly, so an entry's
 * bytes and their usage go together.
 */
const REPLY_USAGE = new WeakMap<Buffer, { format: string; usage: Usage }>();
function replyUsage(ctx: RequestContext, body: Buffer): void {
  const known = ctx.trace === null ? REPLY_USAGE.get(body) : undefined;
  if (known !== undefined && known.format === ctx.format.name) return setUsage(ctx, known.usage);
  const tail = new TailBuffer();
  tail.push(body);
  REPLY_USAGE.set(body, { format: ctx.format.name, usage: readUsage(ctx, tail) });
}

/**
 * The one response side. Every answer a client gets passes here: an upstream's, a
 * cache's, a stage's own reply. Head stages (onResponse) run outward, then the body goes
 * through the body steps: a stream event by event, a JSON answer parsed once when some
 * step transforms it, anything else as bytes with backpressure. An answer made by a stage
 * passes only the stages placed before it (ctx.replyDepth). Synchronous for bytes in hand
 * whose head stages answer at once (a cache hit): a promise only where something waits.
 */
function deliver(ctx: RequestContext, head: ResponseHead, body: Source, phases: Phases | null, fromUpstream: boolean, from = 0): MaybePromise<void> {
  const handlers = phases?.onResponse;
  if (handlers) {
    const depth = ctx.replyDepth;
    for (let i = from; i < handlers.length; i++) {
      const handler = handlers[i]!;
      if (handler.order >= depth) continue;
      const result = handler.fn(ctx, head);
      if (result instanceof Promise) return result.then(() => deliver(ctx, head, body, phases, fromUpstream, i + 1));
    }
  }
  return deliverBody(ctx, head, body, phases, fromUpstream);
}

/** The body part of `deliver`, once the head stages ran. */
function deliverBody(ctx: RequestContext, head: ResponseHead, body: Source, phases: Phases | null, fromUpstream: boolean): MaybePromise<void> {
  // An answer a stage already read whole is sent from its bytes, not read a second time.
  const source = Buffer.isBuffer(body) ? body : (heldBytes(body) ?? body);
  ctx.status = head.status;
  const contentType = headerValue(head.headers['content-type']) ?? '';
  const isSse = contentType.startsWith('text/event-stream');
  ctx.responseIsSse = isSse;
  const isJson = !isSse && contentType.includes('json');
  const plan = phases === null ? null : phases.bodyAt(ctx.replyDepth);
  const steps = plan === null ? null : plan.steps;
  const eventMode = isSse && plan !== null && plan.transformsEvents;
  const jsonMode = isJson && plan !== null && plan.transformsJson;
  const headers = clientResponseHeaders(head.headers, jsonMode || eventMode || !fromUpstream);
  ctx.overheadMs = ownTime(ctx); // ctx.upstreamMs is this answer's time to headers
  gatewayHeaders(ctx, headers, ctx.overheadMs);
  if (jsonMode) return forwardParsed(ctx, source, headers, steps!);
  if (!fromUpstream && !eventMode && Buffer.isBuffer(source)) headers['content-length'] = source.length;
  ctx.res.writeHead(head.status, headers);
  if (isSse) {
    // A stream's head goes out at once, so the client knows it started while the model
    // thinks; unless its first bytes are already here (the upstream's head and first event
    // usually come in one read): then head and event leave in one write, one packet sooner.
    if (Buffer.isBuffer(source) || source.readableLength === 0) ctx.res.flushHeaders();
    const tail = new TailBuffer();
    if (eventMode) return forwardEvents(ctx, source, tail, steps!).then(() => void readUsage(ctx, tail));
    if (Buffer.isBuffer(source)) {
      sendBytes(ctx, source, tail, steps);
      readUsage(ctx, tail);
      return undefined;
    }
    return forwardStream(ctx, source, tail, steps).then(() => void readUsage(ctx, tail));
  }
  if (Buffer.isBuffer(source)) {
    if (isJson && !fromUpstream) {
      sendBytes(ctx, source, null, steps);
      replyUsage(ctx, source);
    } else {
      const tail = isJson ? new TailBuffer() : null;
      sendBytes(ctx, source, tail, steps);
      if (tail) readUsage(ctx, tail);
    }
    return undefined;
  }
  const tail = isJson ? new TailBuffer() : null;
  return forwardStream(ctx, source, tail, steps).then(() => {
    if (tail) readUsage(ctx, tail);
  });
}

/** Sends an upstream's answer to the client through the response side. */
export async function respond(ctx: RequestContext, upstream: UpstreamResponse, phases: Phases): Promise<void> {
  ctx.upstreamMs = upstream.headersMs;
  try {
    await deliver(ctx, upstream, upstream.body, phases, true);
  } catch (err) {
    if (isClientGone(ctx)) return;
    sendError(ctx, midStreamError(ctx, err), phases);
  } finally {
    if (!upstream.body.destroyed) upstream.body.destroy();
  }
}

function localHead(reply: LocalReply, isJson: boolean): ResponseHead {
  const headers: HeaderMap = isJson ? { 'content-type': 'application/json' } : {};
  if (reply.headers) for (const name in reply.headers) headers[name.toLowerCase()] = reply.headers[name];
  return { status: reply.status, headers };
}

/** Sends a reply a stage made (a cache hit, a refusal) through the response side of the stages before it. */
export function respondLocal(ctx: RequestContext, reply: LocalReply, phases: Phases | null): MaybePromise<void> {
  const isObject = !Buffer.isBuffer(reply.body) && typeof reply.body !== 'string';
  const body = Buffer.isBuffer(reply.body) ? reply.body : Buffer.from(typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body));
  let sent: MaybePromise<void>;
  try {
    sent = deliver(ctx, localHead(reply, isObject), body, phases, false);
  } catch (err) {
    return localFailed(ctx, err);
  }
  return sent instanceof Promise ? sent.catch((err: unknown) => localFailed(ctx, err)) : undefined;
}

/** A local reply that failed on its way out: nothing to do if the client left, else the caller's error. */
function localFailed(ctx: RequestContext, err: unknown): void {
  if (isClientGone(ctx)) return;
  throw err;
}
