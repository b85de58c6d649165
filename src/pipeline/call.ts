import { failureKind } from '../errors.js';
import type { UpstreamResponse } from '../providers/provider.js';
import type { CompiledTarget } from './compiled.js';
import type { AttemptRecord, RequestContext } from './context.js';
import type { Attempt } from './stage.js';

/** Sends a stage's model override, else the target's model, else the caller's. */
export function applyModel(ctx: RequestContext, target: CompiledTarget): void {
  if (!ctx.hasJsonBody) return;
  const model = ctx.modelOverride ?? target.model ?? ctx.requestedModel;
  // ctx.model, not ctx.body: a body no stage read yet is not parsed to find it unchanged.
  if (model !== undefined && ctx.model !== model) {
    ctx.body!.model = model;
    ctx.markBodyChanged();
  }
}

const STATUS_LABELS = new Map<number, string>();
/** Status codes as label strings, made once each. */
function statusLabel(status: number): string {
  let label = STATUS_LABELS.get(status);
  if (label === undefined) STATUS_LABELS.set(status, (label = String(status)));
  return label;
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

/**
 * The innermost upstream call: one try against `attempt.target`. Call wrappers (retry,
 * fallback, timeout, hedging) are composed around it at compile time. Records the try
 * for the access log and tells the router's strategy how long it took.
 */
export async function baseCall(ctx: RequestContext, attempt: Attempt): Promise<UpstreamResponse> {
  const target = attempt.target;
  const router = ctx.router!;
  ctx.target = target;
  applyModel(ctx, target);
  const span = ctx.trace === null ? null : ctx.trace.startTry(target.upstream.name, ctx.model, ctx.upstreamPath, ctx.attempts.length + 1);
  const started = performance.now();
  try {
    const response = await target.upstream.provider.send(ctx, span === null ? attempt : { ...attempt, traceparent: span.traceparent });
    const ms = performance.now() - started;
    if (span !== null) ctx.trace!.tryAnswered(span, response.status);
    const record: AttemptRecord = { upstream: target.upstream.name, status: response.status, error: null, ms: round(ms) };
    if (response.requestId) record.upstream_request_id = response.requestId;
    ctx.attempts.push(record);
    router.metrics.attempt(target.upstream.name, statusLabel(response.status), ms / 1000);
    router.observe?.(target, ms, response.status >= 500);
    response.target = target;
    return response;
  } catch (err) {
    const ms = performance.now() - started;
    const kind = failureKind(err);
    if (span !== null) ctx.trace!.tryFailed(span, kind);
    ctx.attempts.push({ upstream: target.upstream.name, status: 0, error: kind, ms: round(ms) });
    router.metrics.attempt(target.upstream.name, kind, ms / 1000);
    if (kind !== 'aborted') router.observe?.(target, ms, true);
    throw err;
  }
}
