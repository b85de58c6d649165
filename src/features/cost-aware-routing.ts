import type { CompiledTarget } from '../pipeline/compiled.js';
import { bounded } from '../config/ranges.js';
import type { RequestContext } from '../pipeline/context.js';
import type { Stage } from '../pipeline/stage.js';
import type { Pricing } from '../pricing.js';
import { parseDuration } from '../util/units.js';
import type { FeatureModule } from './feature.js';
import { ORDER } from './feature.js';

export interface CostAwareRoutingConfig {
  max_latency?: string;
}

/** Weight of the newest sample in each upstream's moving average of time to response headers. */
const EWMA_ALPHA = 0.3;

/** USD per 1M tokens (input + output) of the model `target` would be sent; unpriced: Infinity. */
function priceOf(pricing: Pricing, target: CompiledTarget, requested: string | undefined): number {
  const model = target.model ?? requested;
  const price = model ? pricing.priceOf(model) : null;
  return price ? price.input + price.output : Number.POSITIVE_INFINITY;
}

/**
 * Reorders the candidates: the cheapest target whose latency average is within
 * `max_latency` first (a target not measured yet counts as within it), then the slow
 * ones, cheapest first too. Latency is each try's time to response headers, read from
 * the request's tries once it is done, so fallbacks and retries are measured as well.
 */
class CostAwareRoutingStage implements Stage {
  readonly name = 'cost_aware_routing';
  /** Moving average of time to headers per upstream, ms (-1: not measured). */
  private readonly ewma = new Map<string, number>();
  private readonly fixedPrices: Map<CompiledTarget, number> | null;

  constructor(
    private readonly pricing: Pricing,
    private readonly maxLatencyMs: number,
    targets: readonly CompiledTarget[],
  ) {
    this.fixedPrices = targets.every((t) => t.model !== null) ? new Map(targets.map((t) => [t, priceOf(pricing, t, undefined)])) : null;
  }

  private fast(target: CompiledTarget): boolean {
    const ms = this.ewma.get(target.upstream.name);
    return ms === undefined || ms <= this.maxLatencyMs;
  }

  filterTargets(ctx: RequestContext, candidates: readonly CompiledTarget[]): readonly CompiledTarget[] {
    if (candidates.length < 2) return candidates;
    const requested = ctx.requestedModel;
    return candidates
      .map((t, i) => ({ t, i, fast: this.fast(t), price: this.fixedPrices?.get(t) ?? priceOf(this.pricing, t, requested) }))
      .sort((a, b) => Number(b.fast) - Number(a.fast) || a.price - b.price || a.i - b.i)
      .map((x) => x.t);
  }

  onDone(ctx: RequestContext): void {
    for (const attempt of ctx.attempts) {
      if (attempt.error === 'aborted') continue;
      const before = this.ewma.get(attempt.upstream);
      this.ewma.set(attempt.upstream, before === undefined ? attempt.ms : EWMA_ALPHA * attempt.ms + (1 - EWMA_ALPHA) * before);
    }
  }

  stats(): Record<string, unknown> {
    return {
      max_latency_ms: Number.isFinite(this.maxLatencyMs) ? this.maxLatencyMs : null,
      ttfb_ewma_ms: Object.fromEntries([...this.ewma].map(([name, ms]) => [name, Math.round(ms * 100) / 100])),
    };
  }
}

/**
 * `cost_aware_routing`: the `cost_aware` order (cheapest first by `pricing`) bounded by
 * latency: targets whose average time to response headers is over `max_latency` go after
 * the ones within it. Health checks still put unhealthy targets last.
 */
export const costAwareRouting: FeatureModule<CostAwareRoutingConfig> = {
  name: 'cost_aware_routing',
  order: ORDER.target_selection,
  describe(c) {
    return `cheapest target first by the pricing table${c.max_latency ? `, among those averaging under ${c.max_latency} to response headers (slower ones after)` : ''}`;
  },
  schema: {
    description:
      'Orders the targets cheapest first by the `pricing` table (input + output USD per 1M tokens of the model each target is sent), preferring the ones whose moving average ' +
      'time to response headers is within `max_latency`. Unpriced targets go last; unhealthy ones (`health_check`) after every healthy one.',
    type: 'object',
    additionalProperties: false,
    properties: {
      max_latency: bounded(
        'duration',
        '1ms',
        '10m',
        'The longest average time to response headers for a target to count as fast enough, e.g. `2s`. A target not measured yet counts as fast enough. Default: no bound (cheapest first).',
      ),
    },
  },
  create(config, deps) {
    const maxLatencyMs = config.max_latency ? parseDuration(config.max_latency) : Number.POSITIVE_INFINITY;
    return new CostAwareRoutingStage(deps.pricing, maxLatencyMs, deps.targets);
  },
};
