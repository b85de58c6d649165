import type { FeatureModule } from './feature.js';
import { bounded } from '../config/ranges.js';
import { ORDER } from './feature.js';
import { discard } from '../pipeline/failures.js';
import type { RequestContext } from '../pipeline/context.js';
import type { Attempt, UpstreamCall } from '../pipeline/stage.js';
import type { UpstreamResponse } from '../providers/provider.js';
import { parseDuration } from '../util/units.js';
import { linkedAbort } from '../pipeline/abort.js';

export interface HedgingConfig {
  after: string;
}

/** A try that `abort()` cancels, besides everything that cancels the try it came from. */
function cancellable(attempt: Attempt, target = attempt.target): { attempt: Attempt; abort: () => void } {
  const signal = linkedAbort(attempt.signal);
  // No reason: undici fails the loser's try with its own abort error, logged as `aborted`.
  return { attempt: { ...attempt, target, signal }, abort: () => signal.abort() };
}

/**
 * `hedging`: when a try has no response headers after `after`, the same request also goes
 * to the next target in strategy order; the first to answer wins and the other is aborted
 * (its upstream sees the connection close). If one fails, the other is awaited.
 */
export const hedging: FeatureModule<HedgingConfig> = {
  name: 'hedging',
  order: ORDER.hedging,
  describe(c) {
    return `after ${c.after} without response headers, also ask the next target; the first answer wins, the other is aborted`;
  },
  schema: {
    description: 'Sends the request to a second target when the first is slow to answer; the first answer wins.',
    type: 'object',
    additionalProperties: false,
    required: ['after'],
    properties: {
      after: bounded('duration', '1ms', '10m', 'How long to wait for response headers before asking the next target too, e.g. `2s`.'),
    },
  },
  create(config, deps) {
    const afterMs = parseDuration(config.after);
    const hedges = deps.metrics.counter('ai_gateway_hedges_total', 'Hedged tries, by router and result (`started`, `won`: the hedge answered first).', ['router', 'result']);
    const started = hedges.labels(deps.routerName, 'started');
    const won = hedges.labels(deps.routerName, 'won');

    function race(
      next: UpstreamCall,
      ctx: RequestContext,
      attempt: Attempt,
      first: ReturnType<typeof cancellable>,
      firstCall: Promise<UpstreamResponse>,
      alternative: Attempt['target'],
    ): Promise<UpstreamResponse> {
      // Both tries derive from the original attempt: cancelling one must not cancel the other.
      const second = cancellable(attempt, alternative);
      started.inc();
      const secondCall = next(ctx, second.attempt);
      return new Promise((resolve, reject) => {
        let settled = false;
        let failed = 0;
        let firstError: unknown;
        const onAnswer = (response: UpstreamResponse, loser: () => void, isHedge: boolean): void => {
          if (settled) return discard(response);
          settled = true;
          loser();
          if (isHedge) won.inc();
          resolve(response);
        };
        const onFailure = (err: unknown): void => {
          firstError ??= err;
          if (++failed === 2 && !settled) reject(firstError);
        };
        firstCall.then((r) => onAnswer(r, second.abort, false), onFailure);
        secondCall.then((r) => onAnswer(r, first.abort, true), onFailure);
      });
    }

    return {
      name: 'hedging',
      wrapCall(next) {
        return async (ctx, attempt) => {
          const index = ctx.candidates.indexOf(attempt.target);
          const alternative = index >= 0 ? ctx.candidates[index + 1] : undefined;
          if (!alternative || !ctx.replayable) return next(ctx, attempt);
          const first = cancellable(attempt);
          const firstCall = next(ctx, first.attempt);
          let timer: NodeJS.Timeout | undefined;
          const slow = new Promise<'slow'>((resolve) => {
            timer = setTimeout(resolve, afterMs, 'slow');
          });
          const early = await Promise.race([firstCall.then(() => 'done' as const, () => 'done' as const), slow]);
          clearTimeout(timer);
          if (early === 'done' || attempt.signal.aborted) return firstCall;
          return race(next, ctx, attempt, first, firstCall, alternative);
        };
      },
    };
  },
};
