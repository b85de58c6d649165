import { GatewayError } from '../errors.js';
import { bounded } from '../config/ranges.js';
import type { FeatureModule } from './feature.js';
import { ORDER } from './feature.js';
import { parseDuration } from '../util/units.js';

export interface TimeoutConfig {
  connect?: string;
  first_byte?: string;
  total?: string;
  idle?: string;
}

/**
 * `timeout`: limits per try (`first_byte`: response headers; `idle`: the gap between body
 * chunks) and per request (`total`: from arrival to the end of the answer, across every
 * retry and fallback). A try that times out before its first byte is a `timeout` failure
 * that retry and fallback may act on; after it, the stream ends with an SSE `error` event.
 * `connect` is set on the pools of the upstreams this router uses (undici sets it per
 * pool): an upstream shared by routers gets the smallest.
 */
export const timeout: FeatureModule<TimeoutConfig> = {
  name: 'timeout',
  order: ORDER.timeout,
  describe(c) {
    const parts = (['connect', 'first_byte', 'idle', 'total'] as const).filter((k) => c[k]).map((k) => `${k} ${c[k]}`);
    return parts.length ? parts.join(', ') : "the upstreams' own timeouts";
  },
  schema: {
    description: "Time limits; each one left out falls back to the upstream's `timeout`.",
    type: 'object',
    additionalProperties: false,
    properties: {
      connect: bounded('duration', '1ms', '10m', "Time to open a connection to a target's upstream (set per upstream pool: the smallest among routers wins)."),
      first_byte: bounded('duration', '1ms', '1d', 'Time for each try to get response headers (for a stream: until it starts). A retryable `timeout` failure.'),
      idle: bounded('duration', '1ms', '1d', 'The longest gap between body chunks (stream events). Mid-stream, the stream ends with an SSE `error` event.'),
      total: bounded('duration', '1ms', '1d', 'The whole request, from arrival to the last byte, across retries and fallbacks; then 504 (or an SSE `error` event once streaming).'),
    },
  },
  create(config) {
    const firstByteMs = config.first_byte ? parseDuration(config.first_byte) : null;
    const idleMs = config.idle ? parseDuration(config.idle) : null;
    const totalMs = config.total ? parseDuration(config.total) : null;
    const message = `the request took longer than timeout.total (${config.total})`;
    const exceeded = (): GatewayError => new GatewayError('upstream_timeout', message);
    return {
      name: 'timeout',
      ...(totalMs !== null && {
        onRequest(ctx) {
          ctx.setDeadline(totalMs, exceeded);
        },
      }),
      ...((firstByteMs !== null || idleMs !== null) && {
        wrapCall(next) {
          return (ctx, attempt) =>
            next(ctx, { ...attempt, firstByteMs: firstByteMs ?? attempt.firstByteMs, idleMs: idleMs ?? attempt.idleMs });
        },
      }),
    };
  },
};
