import { setTimeout as sleep } from 'node:timers/promises';
import { bounded } from '../config/ranges.js';
import type { FeatureModule } from './feature.js';
import { ORDER } from './feature.js';
import { DEFAULT_FAILURES, discard, FailureSet, failureListSchema, retryAfterMs, type FailureName } from '../pipeline/failures.js';
import type { UpstreamResponse } from '../providers/provider.js';
import { parseDuration } from '../util/units.js';
import { standardSignal } from '../pipeline/abort.js';

export interface RetryConfig {
  attempts?: number;
  backoff?: string;
  max_backoff?: string;
  max_retry_after?: string;
  on?: FailureName[];
}

const DEFAULTS = { attempts: 2, backoff: '100ms', max_backoff: '2s', max_retry_after: '30s' } as const;

/**
 * PATCH is neither safe nor idempotent, so it is never sent twice; POST is, because the
 * model APIs behind it do not change state (and a caller asks for this feature). A body
 * that streamed through (multipart) is gone after one try and cannot be replayed.
 */
const NEVER_RETRIED = new Set(['PATCH']);

/**
 * `retry`: sends the request to the same target again on the listed failures, with
 * exponential backoff and full jitter, or after the delay the upstream asked for
 * (`retry-after-ms`, `Retry-After`) when that is within `max_retry_after`. Only failures
 * before the response is handed to the client are retried, so a stream is never retried
 * once its first byte went out.
 */
export const retry: FeatureModule<RetryConfig> = {
  name: 'retry',
  order: ORDER.retry,
  describe(c) {
    return `up to ${c.attempts ?? DEFAULTS.attempts} tries per target on ${(c.on ?? DEFAULT_FAILURES).join(', ')}; backoff ${c.backoff ?? DEFAULTS.backoff}..${c.max_backoff ?? DEFAULTS.max_backoff} with full jitter; Retry-After honoured up to ${c.max_retry_after ?? DEFAULTS.max_retry_after}`;
  },
  schema: {
    description: 'Sends a failed request to the same target again (never once a stream has started reaching the client; never a PATCH or an upload that streamed through).',
    type: 'object',
    additionalProperties: false,
    properties: {
      attempts: { description: 'Tries in all, the first included (2 = one retry). Default 2.', type: 'integer', minimum: 1, maximum: 10, default: DEFAULTS.attempts },
      backoff: bounded('duration', '0ms', '1m', 'The base delay: try n waits a random time up to backoff × 2^(n−1) (full jitter). Default 100ms.', { default: DEFAULTS.backoff }),
      max_backoff: bounded('duration', '0ms', '10m', 'The longest computed delay. Default 2s.', { default: DEFAULTS.max_backoff }),
      max_retry_after: bounded(
        'duration',
        '0ms',
        '1h',
        'The longest `Retry-After` / `retry-after-ms` the gateway waits for; an upstream asking for longer gets its answer passed to the client instead. Default 30s.',
        { default: DEFAULTS.max_retry_after },
      ),
      on: failureListSchema('The failures that are retried.'),
    },
  },
  create(config, deps) {
    const attempts = config.attempts ?? DEFAULTS.attempts;
    const baseMs = parseDuration(config.backoff ?? DEFAULTS.backoff);
    const maxMs = parseDuration(config.max_backoff ?? DEFAULTS.max_backoff);
    const maxRetryAfterMs = parseDuration(config.max_retry_after ?? DEFAULTS.max_retry_after);
    const on = new FailureSet(config.on);
    const retries = deps.metrics.counter('ai_gateway_retries_total', 'Tries sent again to the same target, by router and upstream.', ['router', 'upstream']);
    const backoff = (retry: number): number => Math.random() * Math.min(maxMs, baseMs * 2 ** (retry - 1));

    return {
      name: 'retry',
      wrapCall(next) {
        return async (ctx, attempt) => {
          if (NEVER_RETRIED.has(ctx.method) || !ctx.replayable) return next(ctx, attempt);
          for (let n = 1; ; n++) {
            let response: UpstreamResponse | undefined;
            let failure: unknown;
            try {
              response = await next(ctx, attempt);
            } catch (err) {
              failure = err;
            }
            const last = n >= attempts || attempt.signal.aborted;
            let delay: number;
            if (response) {
              if (last || !on.hasStatus(response.status)) return response;
              const asked = retryAfterMs(response.headers);
              if (asked !== null && asked > maxRetryAfterMs) return response;
              discard(response);
              delay = asked ?? backoff(n);
            } else {
              if (last || !on.hasError(failure)) throw failure;
              delay = backoff(n);
            }
            retries.labels(deps.routerName, attempt.target.upstream.name).inc();
            await sleep(delay, undefined, { signal: standardSignal(attempt.signal) });
          }
        };
      },
    };
  },
};
