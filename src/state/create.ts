import type { Logger } from 'pino';
import type { StateConfig } from '../config/types.js';
import { CONFIG_DEFAULTS } from '../config/defaults.js';
import type { Metrics } from '../observability/metrics.js';
import { parseDuration } from '../util/units.js';
import { MemoryStore } from './memory.js';
import { RedisStore, type RedisTarget } from './redis.js';
import type { StateStore } from './store.js';

export interface StateDeps {
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** The clock (epoch ms); tests inject one. */
  readonly now: () => number;
}

/** The store a config's `state:` section asks for (memory when there is none). */
export function createStateStore(config: StateConfig | undefined, deps: StateDeps): StateStore {
  if (config?.backend !== 'redis' || !config.redis) return new MemoryStore(deps.now);
  const redis = config.redis;
  const target: RedisTarget = redis.nodes
    ? { nodes: redis.nodes, password: redis.password }
    : redis.sentinels
      ? { sentinels: redis.sentinels, name: redis.name!, password: redis.password }
      : { url: redis.url! };
  return new RedisStore({
    target,
    prefix: config.redis.prefix ?? CONFIG_DEFAULTS.redis_prefix,
    timeoutMs: parseDuration(config.redis.timeout ?? CONFIG_DEFAULTS.redis_timeout),
    logger: deps.logger,
    now: deps.now,
    failures: deps.metrics.counter(
      'ai_gateway_state_failures_total',
      'State operations Redis could not serve (it failed or was unreachable), answered from local counters instead.',
      ['op'],
    ),
    up: deps.metrics.gauge('ai_gateway_state_redis_up', '1 while the Redis state backend is connected, 0 while local counters stand in.', []),
  });
}

/** A stable text of the `state:` section: the gateway makes a new store only when it changes. */
export function stateIdentity(config: StateConfig | undefined): string {
  return JSON.stringify(config ?? null);
}
