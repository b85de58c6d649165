/**
 * The request path's side of OpenTelemetry: starts a request's span from the caller's
 * trace context and completes it from what the request context knows at the end. Only
 * called when the pipeline has telemetry (`ctx.trace` is null otherwise).
 */
import { headerValue } from '../upstream/headers.js';
import type { RequestContext } from './context.js';

export function beginTrace(ctx: RequestContext): void {
  const headers = ctx.req.headers;
  ctx.trace = ctx.pipeline.telemetry!.startRequest(ctx.method, headerValue(headers.traceparent), headerValue(headers.tracestate));
}

export function endTrace(ctx: RequestContext, status: number, totalMs: number): void {
  const cache = ctx.res.getHeader('x-cache');
  ctx.trace!.end({
    path: ctx.upstreamPath || (ctx.req.url ?? ''),
    status,
    durationMs: totalMs,
    requestModel: ctx.requestedModel,
    router: ctx.router?.name ?? null,
    upstream: ctx.target?.upstream.name ?? null,
    attempts: ctx.attempts.length,
    stream: ctx.stream,
    inputTokens: ctx.promptTokens,
    outputTokens: ctx.completionTokens,
    cache: typeof cache === 'string' ? cache : null,
    error: ctx.error?.code ?? (status === 499 ? 'client_closed' : null),
  });
}
