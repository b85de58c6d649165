import type { FeatureModule } from './feature.js';
import { ORDER } from './feature.js';
import { DEFAULT_FAILURES, discard, FailureSet, failureListSchema, type FailureName } from '../pipeline/failures.js';
import type { UpstreamResponse } from '../providers/provider.js';

export interface FallbackConfig {
  on?: FailureName[];
  max_targets?: number;
}

/**
 * `fallback`: when a target fails in a listed way, the next target in the router's
 * strategy order gets the request (unhealthy targets come last), up to `max_targets`
 * targets in all. The answer names the target that gave it (`x-sidegate-target`) and
 * how many tries it took (`x-sidegate-attempts`).
 */
export const fallback: FeatureModule<FallbackConfig> = {
  name: 'fallback',
  order: ORDER.fallback,
  describe(c) {
    return `on ${(c.on ?? DEFAULT_FAILURES).join(', ')}, the next target in strategy order (up to ${c.max_targets ?? 'all'} targets)`;
  },
  schema: {
    description: "On the listed failures, tries the router's other targets in strategy order.",
    type: 'object',
    additionalProperties: false,
    properties: {
      on: failureListSchema('The failures that move the request to the next target.'),
      max_targets: { description: 'How many targets a request may try in all, the first included. Default: every target. Range: 1 to 100.', type: 'integer', minimum: 1, maximum: 100 },
    },
  },
  create(config, deps) {
    const on = new FailureSet(config.on);
    const maxTargets = config.max_targets ?? Number.POSITIVE_INFINITY;
    const fallbacks = deps.metrics.counter('ai_gateway_fallbacks_total', 'Requests moved to the next target, by router and the upstream that failed.', ['router', 'upstream']);

    return {
      name: 'fallback',
      wrapCall(next) {
        return async (ctx, attempt) => {
          const candidates = ctx.candidates;
          const start = Math.max(0, candidates.indexOf(attempt.target));
          const end = Math.min(candidates.length, start + maxTargets);
          if (end - start < 2 || !ctx.replayable) return next(ctx, attempt);
          for (let i = start; ; i++) {
            const tryAttempt = i === start ? attempt : { ...attempt, target: candidates[i]! };
            let response: UpstreamResponse | undefined;
            let failure: unknown;
            try {
              response = await next(ctx, tryAttempt);
            } catch (err) {
              failure = err;
            }
            const last = i + 1 >= end || attempt.signal.aborted;
            if (response) {
              if (last || !on.hasStatus(response.status)) return response;
              discard(response);
            } else if (last || !on.hasError(failure)) {
              throw failure;
            }
            fallbacks.labels(deps.routerName, tryAttempt.target.upstream.name).inc();
          }
        };
      },
    };
  },
};
