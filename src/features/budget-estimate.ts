/**
 * What a request may cost at most, before it is sent: its prompt's tokens at the input
 * price plus the most it may write (`max_tokens`, else the model's output limit) at the
 * output price, for the priciest model the router may send it to. Budgets reserve this
 * much before the call and settle the answer's real cost after it.
 */
import type { RequestContext } from '../pipeline/context.js';
import type { Pricing } from '../pricing.js';
import { slot } from '../pipeline/slot.js';
import { countRequestTokens, modelInfo } from '../tokens/index.js';

/** Computed once per request, whichever budget asks first. */
const ESTIMATE = slot<number>('budget_estimate');

/** Endpoints whose answers are written by the model (output tokens are reserved for them). */
const GENERATES = /^\/v1\/(chat\/completions|completions|messages|responses)(\?|$)/;

function outputLimit(body: Record<string, unknown>, model: string | undefined): number {
  for (const field of ['max_completion_tokens', 'max_tokens', 'max_output_tokens']) {
    const value = body[field];
    if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value;
  }
  return modelInfo(model).maxOutput;
}

/** USD: the most this request may cost (0 without a body, or when no candidate model has a price). */
export function estimatedCost(ctx: RequestContext, pricing: Pricing): number {
  const known = ctx.get(ESTIMATE);
  if (known !== undefined) return known;
  let usd = 0;
  const body = ctx.body;
  if (body !== undefined) {
    const generates = GENERATES.test(ctx.upstreamPath);
    const choices = typeof body.n === 'number' && body.n > 1 ? Math.min(body.n, 128) : 1;
    const seen = new Set<string>();
    for (const target of ctx.router?.targets ?? []) {
      const model = target.model ?? ctx.requestedModel;
      if (model === undefined || seen.has(model)) continue;
      seen.add(model);
      const price = pricing.priceOf(model);
      if (!price) continue;
      const input = countRequestTokens(ctx.format.name, body, model);
      const output = generates ? outputLimit(body, model) * choices : 0;
      usd = Math.max(usd, (input * price.input + output * price.output) / 1_000_000);
    }
  }
  ctx.set(ESTIMATE, usd);
  return usd;
}

/**
 * USD the answer really cost (its `usage` × pricing), 0 when unknown or when the gateway
 * answered itself (a cache hit costs nothing); null for an unpriced model.
 */
export function actualCost(ctx: RequestContext, pricing: Pricing): number | null {
  if (ctx.replyDepth !== Infinity || (ctx.promptTokens <= 0 && ctx.completionTokens <= 0)) return 0;
  return pricing.cost(ctx.model ?? '', ctx.promptTokens, ctx.completionTokens, ctx.cachedTokens, ctx.cacheWriteTokens);
}
