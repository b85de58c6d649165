import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { GatewayError } from '../errors.js';
import type { UpstreamResponse } from '../providers/provider.js';
import { clientResponseHeaders, headerValue } from '../upstream/headers.js';
import { lastEventEnd, makeEvent, parseEvents } from '../upstream/sse.js';
import { TailBuffer, usageFromTail } from '../upstream/usage.js';
import type { RequestContext } from './context.js';
import type { Phases } from './phases.js';
import type { LocalReply } from './stage.js';

/** Resolves when the response can take more bytes, or is gone. */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

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

/** `Server-Timing`: the gateway's own time (`own`) and the upstream's time to headers. */
function serverTiming(ctx: RequestContext, own: number): string {
  const upstream = ctx.upstreamMs < 0 ? 0 : ctx.upstreamMs;
  return `gateway;dur=${Math.round(own * 1000) / 1000}, upstream;dur=${Math.round(upstream * 1000) / 1000}`;
}

/** Writes a reply the gateway made itself (a stage's LocalReply). */
export function sendLocal(ctx: RequestContext, reply: LocalReply): void {
  const body = Buffer.isBuffer(reply.body)
    ? reply.body
    : Buffer.from(typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body));
  const isJson = !Buffer.isBuffer(reply.body) && typeof reply.body !== 'string';
  ctx.status = reply.status;
  ctx.res.writeHead(reply.status, {
    ...(isJson ? { 'content-type': 'application/json' } : {}),
    ...reply.headers,
    'content-length': body.length,
    'x-request-id': ctx.id,
    'server-timing': serverTiming(ctx, ownTime(ctx)),
  });
  ctx.ttfbMs = performance.now() - ctx.startedAt;
  ctx.bytesOut = body.length;
  ctx.res.end(body);
}

/**
 * Ends a request with a gateway error. Before the head is sent that is an OpenAI-format
 * JSON error; after it, a stream gets a final SSE `error` event and anything else is cut.
 */
export function sendError(ctx: RequestContext, error: GatewayError, phases: Phases | null): void {
  ctx.error = error;
  if (phases?.onError) for (const handler of phases.onError) handler(ctx, error);
  const res = ctx.res;
  if (res.destroyed || res.writableEnded) return;
  if (res.headersSent) {
    if (ctx.responseIsSse) {
      res.end(makeEvent(JSON.stringify(error.toJSON()), 'error').raw);
    } else {
      res.destroy(error);
    }
    return;
  }
  const body = Buffer.from(JSON.stringify(error.toJSON()));
  ctx.status = error.status;
  if (error.status === 413) res.shouldKeepAlive = false; // the unread upload must not poison the connection
  res.writeHead(error.status, {
    ...error.headers,
    'content-type': 'application/json',
    'content-length': body.length,
    'x-request-id': ctx.id,
    'server-timing': serverTiming(ctx, ownTime(ctx)),
  });
  ctx.bytesOut = body.length;
  res.end(body);
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

/** Shows a chunk of the upstream's body to every `onData` stage. */
function observe(ctx: RequestContext, chunk: Buffer, phases: Phases): void {
  for (const handler of phases.onData!) handler(ctx, chunk);
}

async function forwardBytes(ctx: RequestContext, body: Readable, tail: TailBuffer | null, phases: Phases): Promise<void> {
  for await (const chunk of body as AsyncIterable<Buffer>) {
    tail?.push(chunk);
    if (phases.onData) observe(ctx, chunk, phases);
    const wait = write(ctx, chunk);
    if (wait) await wait;
    if (ctx.res.destroyed) return;
  }
  ctx.res.end();
}

async function applyChunkStages(ctx: RequestContext, bytes: Buffer, phases: Phases): Promise<Buffer> {
  const out: Buffer[] = [];
  for (let event of parseEvents(bytes)) {
    let keep = true;
    for (const handler of phases.onChunk!) {
      const result = await handler(ctx, event);
      if (result === null) {
        keep = false;
        break;
      }
      if (result) event = result;
    }
    if (keep) out.push(event.raw);
  }
  return out.length === 1 ? out[0]! : Buffer.concat(out);
}

/** Forwards a stream event by event as they arrive: only whole events reach the client. */
async function forwardEvents(ctx: RequestContext, body: Readable, tail: TailBuffer, phases: Phases): Promise<void> {
  let pending: Buffer | null = null;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    if (phases.onData) observe(ctx, chunk, phases);
    const buf: Buffer = pending ? Buffer.concat([pending, chunk]) : chunk;
    const end = lastEventEnd(buf);
    if (end < 0) {
      pending = buf;
      continue;
    }
    pending = end < buf.length ? Buffer.from(buf.subarray(end)) : null;
    let out = end === buf.length ? buf : buf.subarray(0, end);
    tail.push(out); // usage is read from what the upstream sent, even if a stage hides it
    if (phases.onChunk) out = await applyChunkStages(ctx, out, phases);
    if (out.length === 0) continue;
    const wait = write(ctx, out);
    if (wait) await wait;
    if (ctx.res.destroyed) return;
  }
  if (pending) {
    tail.push(pending);
    const out = phases.onChunk ? await applyChunkStages(ctx, pending, phases) : pending;
    if (out.length) write(ctx, out);
  }
  ctx.res.end();
}

async function forwardParsed(ctx: RequestContext, body: Readable, headers: Record<string, unknown>, phases: Phases): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of body as AsyncIterable<Buffer>) {
    if (phases.onData) observe(ctx, chunk, phases);
    chunks.push(chunk);
  }
  const raw = Buffer.concat(chunks);
  let out = raw;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch {
    parsed = undefined; // not JSON after all: forwarded as it came
  }
  if (parsed !== undefined) {
    let value = parsed;
    for (const handler of phases.onResponseBody!) {
      const replaced = await handler(ctx, value);
      if (replaced !== undefined) value = replaced;
    }
    if (value !== parsed || ctx.bodyChanged) out = Buffer.from(JSON.stringify(value));
  }
  const tail = new TailBuffer();
  tail.push(out);
  readUsage(ctx, tail);
  headers['content-length'] = out.length;
  ctx.res.writeHead(ctx.status, headers as never);
  write(ctx, out);
  ctx.res.end();
}

function readUsage(ctx: RequestContext, tail: TailBuffer): void {
  const usage = usageFromTail(tail.text());
  ctx.promptTokens = usage.prompt;
  ctx.completionTokens = usage.completion;
}

/**
 * Sends an upstream's answer to the client: head (less hop-by-hop headers, plus
 * x-request-id and Server-Timing), then the body with backpressure. A stream is
 * forwarded event by event; if the upstream dies mid-stream, the client gets a final
 * SSE `error` event.
 */
export async function respond(ctx: RequestContext, upstream: UpstreamResponse, phases: Phases): Promise<void> {
  ctx.upstreamMs = upstream.headersMs;
  if (phases.onResponse) for (const handler of phases.onResponse) await handler(ctx, upstream);
  ctx.status = upstream.status;
  const contentType = headerValue(upstream.headers['content-type']) ?? '';
  const isSse = contentType.startsWith('text/event-stream');
  ctx.responseIsSse = isSse;
  const isJson = !isSse && contentType.includes('json');
  const buffered = isJson && phases.onResponseBody !== null;
  const headers = clientResponseHeaders(upstream.headers, buffered || (isSse && phases.onChunk !== null));
  ctx.overheadMs = ownTime(ctx); // ctx.upstreamMs is this answer's time to headers
  headers['x-request-id'] = ctx.id;
  headers['server-timing'] = serverTiming(ctx, ctx.overheadMs);
  if (upstream.target) headers['x-sidegate-target'] = upstream.target.upstream.name;
  headers['x-sidegate-attempts'] = String(ctx.attempts.length);
  try {
    if (buffered) {
      await forwardParsed(ctx, upstream.body, headers as Record<string, unknown>, phases);
      return;
    }
    ctx.res.writeHead(upstream.status, headers);
    if (isSse) {
      ctx.res.flushHeaders();
      const tail = new TailBuffer();
      await forwardEvents(ctx, upstream.body, tail, phases);
      readUsage(ctx, tail);
    } else {
      const tail = isJson ? new TailBuffer() : null;
      await forwardBytes(ctx, upstream.body, tail, phases);
      if (tail) readUsage(ctx, tail);
    }
  } catch (err) {
    if (isClientGone(ctx)) return;
    sendError(ctx, midStreamError(ctx, err), phases);
  } finally {
    if (!upstream.body.destroyed) upstream.body.destroy();
  }
}
