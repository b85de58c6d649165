import type { RequestContext } from './context.js';
import type { Runtime } from './handle.js';
import { infoLine } from '../observability/logger.js';
import { endTrace } from './tracing.js';

const NO_ROUTER = '';
/** Model names are client input: the log keeps their first 256 characters. */
const MAX_LOGGED_MODEL = 256;

/** Accounting once a request is over: stages' onDone, metrics, the access log line. */
export function finishRequest(runtime: Runtime, ctx: RequestContext): void {
  ctx.clearTimers();
  const router = ctx.router;
  const totalMs = performance.now() - ctx.startedAt;
  const status = ctx.clientClosed && !ctx.completed ? 499 : ctx.status;
  const upstreamName = ctx.target?.upstream.name ?? NO_ROUTER;
  try {
    if (router?.phases.onDone) for (const handler of router.phases.onDone) handler(ctx);
  } catch (err) {
    runtime.logger.error({ err, request_id: ctx.id }, 'an onDone stage failed');
  }
  if (ctx.trace !== null) endTrace(ctx, status, totalMs);
  const metrics = router?.metrics ?? null;
  if (metrics) {
    metrics.request(upstreamName, status, totalMs / 1000, ctx.ttfbMs < 0 ? -1 : ctx.ttfbMs / 1000, ctx.overheadMs < 0 ? -1 : ctx.overheadMs / 1000);
    if (ctx.promptTokens > 0 || ctx.completionTokens > 0) {
      metrics.tokens(upstreamName, ctx.pipeline.modelLabels.label(ctx.model), ctx.promptTokens, ctx.completionTokens, ctx.cachedTokens);
    }
  } else {
    runtime.metrics.requests.child(NO_ROUTER, NO_ROUTER, String(status)).inc();
  }
  if (ctx.pipeline.accessLog) infoLine(runtime.logger, accessRecord(ctx, status, totalMs), 'request');
  runtime.release(ctx.pipeline, ctx);
}

/**
 * The access line's record. One literal with every key (undefined ones are left out of the
 * JSON), so every line has the same shape and JSON.stringify takes its fast path; stages'
 * notes are added after it.
 */
function accessRecord(ctx: RequestContext, status: number, totalMs: number): Record<string, unknown> {
  const record: Record<string, unknown> = {
    request_id: ctx.id,
    method: ctx.method,
    path: ctx.upstreamPath || (ctx.req.url ?? '').split('?', 1)[0],
    router: ctx.router?.name ?? null,
    key: ctx.identity?.key ?? null,
    team: ctx.identity?.team ?? null,
    upstream: ctx.target?.upstream.name ?? null,
    model: logged(ctx.model),
    stream: ctx.stream,
    status,
    duration_ms: round(totalMs),
    ttfb_ms: ctx.ttfbMs < 0 ? null : round(ctx.ttfbMs),
    upstream_ms: ctx.upstreamMs < 0 ? null : round(ctx.upstreamMs),
    prompt_tokens: ctx.promptTokens < 0 ? null : ctx.promptTokens,
    completion_tokens: ctx.completionTokens < 0 ? null : ctx.completionTokens,
    cached_tokens: ctx.cachedTokens > 0 ? ctx.cachedTokens : undefined,
    cache_write_tokens: ctx.cacheWriteTokens > 0 ? ctx.cacheWriteTokens : undefined,
    bytes_out: ctx.bytesOut,
    attempts: ctx.attempts,
    error: ctx.error?.code ?? null,
    trace_id: ctx.trace === null ? undefined : ctx.trace.traceId,
  };
  if (ctx.notes !== null) Object.assign(record, ctx.notes);
  return record;
}

/** A client-sent model name as the log shows it: at most MAX_LOGGED_MODEL characters. */
function logged(model: string | undefined): string | null {
  if (model === undefined) return null;
  return model.length > MAX_LOGGED_MODEL ? `${model.slice(0, MAX_LOGGED_MODEL)}…` : model;
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
