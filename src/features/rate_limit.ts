import { bounded } from '../config/ranges.js';
import type { FeatureModule } from './feature.js';
import { ORDER } from './feature.js';
import type { CompileDeps } from '../pipeline/compile-deps.js';
import type { RequestContext } from '../pipeline/context.js';
import type { Stage } from '../pipeline/stage.js';
import type { UpstreamResponse } from '../providers/provider.js';
import { GatewayError } from '../errors.js';
import type { BucketResult, BucketSpec, StateStore } from '../state/store.js';
import { parseDuration } from '../util/units.js';
import { slot } from '../pipeline/slot.js';
import { CALLER_KEY_DESCRIPTION, CALLER_KEY_PATTERN, callerKeyFunction, type Caller, type CallerKeyOf } from '../pipeline/caller-key.js';

export interface RateLimitConfig {
  requests: number;
  per: string;
  burst?: number;
  tokens?: number;
  key?: string;
}

const DEFAULT_KEY = 'client_ip';

/** The response headers OpenAI sends, in the order it sends them. */
const HEADERS = {
  limitRequests: 'x-ratelimit-limit-requests',
  remainingRequests: 'x-ratelimit-remaining-requests',
  resetRequests: 'x-ratelimit-reset-requests',
  limitTokens: 'x-ratelimit-limit-tokens',
  remainingTokens: 'x-ratelimit-remaining-tokens',
  resetTokens: 'x-ratelimit-reset-tokens',
} as const;
const OUR_HEADERS: readonly string[] = Object.values(HEADERS);

/** A duration as OpenAI's x-ratelimit-reset-* headers write it (Go style): `17ms`, `1s`, `6m0s`, `1h2m3.5s`. */
export function formatReset(ms: number): string {
  if (ms <= 0) return '0s';
  if (ms < 1000) return `${Math.ceil(ms)}ms`;
  let seconds = Math.round(ms) / 1000;
  const hours = Math.floor(seconds / 3600);
  seconds -= hours * 3600;
  const minutes = Math.floor(seconds / 60);
  seconds = Math.round((seconds - minutes * 60) * 1000) / 1000;
  if (hours) return `${hours}h${minutes}m${seconds}s`;
  if (minutes) return `${minutes}m${seconds}s`;
  return `${seconds}s`;
}

interface Limit {
  readonly kind: 'requests' | 'tokens';
  readonly capacity: number;
  /** Milliseconds per token. */
  readonly interval: number;
  readonly limitText: string;
  readonly perText: string;
  readonly limitHeader: string;
  readonly remainingHeader: string;
  readonly resetHeader: string;
  readonly refused: { inc(): void };
}

/** The numbers of a limit (the feature's shape without `key`; also a key's or team's own `rate_limit`). */
export type LimitNumbers = Omit<RateLimitConfig, 'key'>;

/**
 * One rate limit's token buckets in the gateway's state store (memory, or Redis where the
 * check is one atomic script): a request takes one request token and needs at least one
 * token of the token bucket; the tokens a response used are charged when it is done.
 * Bucket keys carry a `{hash tag}` per bucket id, so a Redis Cluster runs each check on
 * one slot. The rate_limit feature has one per router; tenancy one per key and team.
 */
export class RateLimiter {
  private readonly requests: Limit;
  readonly tokens: Limit | null;
  readonly limited = { requests: 0, tokens: 0 };

  constructor(
    readonly config: LimitNumbers,
    /** Names the limit in 429 messages: `router "main"`, `key "checkout"`. */
    private readonly whose: string,
    /** Bucket keys start with this (`rl:main`, `rl:key`); the bucket id follows. */
    private readonly prefix: string,
    private readonly state: StateStore,
    private readonly now: () => number,
    private readonly logger: CompileDeps['logger'],
    refused: { labels(...values: string[]): { inc(): void } },
    routerLabel: string,
  ) {
    const perMs = parseDuration(config.per);
    const limit = (kind: 'requests' | 'tokens', per: number, capacity: number): Limit => ({
      kind,
      capacity,
      interval: perMs / per,
      limitText: String(capacity),
      perText: config.per,
      limitHeader: kind === 'requests' ? HEADERS.limitRequests : HEADERS.limitTokens,
      remainingHeader: kind === 'requests' ? HEADERS.remainingRequests : HEADERS.remainingTokens,
      resetHeader: kind === 'requests' ? HEADERS.resetRequests : HEADERS.resetTokens,
      refused: refused.labels(routerLabel, kind),
    });
    this.requests = limit('requests', config.requests, config.burst ?? config.requests);
    this.tokens = config.tokens === undefined ? null : limit('tokens', config.tokens, config.tokens);
  }

  private spec(limit: Limit, id: string, cost: number, need: number): BucketSpec {
    return { key: `${this.prefix}:{${id}}:${limit.kind}`, capacity: limit.capacity, interval: limit.interval, cost, need };
  }

  /**
   * Takes a request token for bucket `id` (and checks the token bucket); throws
   * rate_limit_exceeded when empty. `res` gets the x-ratelimit-* headers; a WebSocket
   * upgrade has no answer of the gateway's own (null).
   */
  check(res: RequestContext['res'] | null, id: string): void | Promise<void> {
    const specs = [this.spec(this.requests, id, 1, 1)];
    if (this.tokens) specs.push(this.spec(this.tokens, id, 0, 1));
    const result = this.state.take(specs, this.now());
    return result instanceof Promise ? result.then((r) => this.decide(res, r)) : this.decide(res, result);
  }

  /** Sets the x-ratelimit-* headers (every answer carries them); refuses when a bucket is empty. */
  private decide(res: RequestContext['res'] | null, result: BucketResult): void {
    const requestsLeft = result.tokens[0]!;
    const tokensLeft = this.tokens ? result.tokens[1]! : 0;
    if (res !== null) {
      this.setHeaders(res, this.requests, requestsLeft);
      if (this.tokens) this.setHeaders(res, this.tokens, tokensLeft);
    }
    if (result.allowed) return;
    const denied = requestsLeft < 1 ? this.requests : this.tokens!;
    const waitMs = (1 - (denied === this.requests ? requestsLeft : tokensLeft)) * denied.interval;
    denied.refused.inc();
    this.limited[denied.kind]++;
    const retryIn = formatReset(waitMs);
    throw new GatewayError(
      'rate_limit_exceeded',
      `Rate limit reached for ${denied.kind} on ${this.whose}: limit ${denied.limitText} per ${denied.perText}. Please try again in ${retryIn}.`,
      { type: denied.kind, headers: { 'retry-after': String(Math.max(1, Math.ceil(waitMs / 1000))) } },
    );
  }

  /**
   * The headers describe the tightest limit: when several apply (a key's, its team's, the
   * router's), one with fewer requests (or tokens) left keeps its headers.
   */
  private setHeaders(res: RequestContext['res'], limit: Limit, left: number): void {
    const remaining = Math.max(0, Math.floor(left));
    const shown = res.getHeader(limit.remainingHeader);
    if (shown !== undefined && Number(shown) < remaining) return;
    res.setHeader(limit.limitHeader, limit.limitText);
    res.setHeader(limit.remainingHeader, String(remaining));
    res.setHeader(limit.resetHeader, formatReset((limit.capacity - left) * limit.interval));
  }

  /** Charges the tokens a response used to bucket `id` (whatever the bucket holds). */
  charge(ctx: RequestContext, id: string): void {
    const used = Math.max(0, ctx.promptTokens) + Math.max(0, ctx.completionTokens);
    if (used === 0 || !this.tokens) return;
    const charged = this.state.take([this.spec(this.tokens, id, used, 0)], this.now(), true);
    if (charged instanceof Promise) charged.catch((err: unknown) => this.logger.warn({ err }, 'rate_limit: charging tokens failed'));
  }

  stats(): Record<string, unknown> {
    return {
      requests: this.config.requests,
      per: this.config.per,
      burst: this.requests.capacity,
      tokens: this.config.tokens ?? null,
      backend: this.state.backend,
      refused: { ...this.limited },
    };
  }
}

/** The ai_gateway_rate_limited_total counter (shared by every limiter). */
export function refusedCounter(metrics: CompileDeps['metrics']) {
  return metrics.counter('ai_gateway_rate_limited_total', 'Requests refused with 429 by a rate limit, by router and limit (requests or tokens).', ['router', 'limit']);
}

/** The bucket id a request's tokens are charged to. */
const LOCAL_KEY = slot<string>('rate_limit_key');

/** The rate_limit feature: one limiter per router, buckets per `key`. */
class RateLimitStage implements Stage {
  readonly name = 'rate_limit';
  private readonly keyOf: CallerKeyOf;
  private readonly limiter: RateLimiter;

  /** Set only with a token limit: charges what the answer used. */
  readonly onDone?: (ctx: RequestContext) => void;

  constructor(
    private readonly config: RateLimitConfig,
    deps: CompileDeps,
  ) {
    this.keyOf = callerKeyFunction(config.key ?? DEFAULT_KEY, deps.clientIp);
    this.limiter = new RateLimiter(config, `router "${deps.routerName}"`, `rl:${deps.routerName}`, deps.state, deps.now, deps.logger, refusedCounter(deps.metrics), deps.routerName);
    if (this.limiter.tokens) {
      this.onDone = (ctx) => {
        const id = ctx.get(LOCAL_KEY);
        if (id !== undefined) this.limiter.charge(ctx, id);
      };
    }
  }

  onRequest(ctx: RequestContext): void | Promise<void> {
    const id = this.keyOf(ctx);
    if (this.limiter.tokens) ctx.set(LOCAL_KEY, id);
    return this.limiter.check(ctx.res, id);
  }

  /** A WebSocket session is one request in the caller's bucket (its tokens are not seen: nothing is charged). */
  onUpgrade(caller: Caller): void | Promise<void> {
    return this.limiter.check(null, this.keyOf(caller));
  }

  /** The upstream's own x-ratelimit-* headers would contradict ours: ours win. */
  onResponse(_ctx: RequestContext, response: UpstreamResponse): void {
    dropUpstreamLimitHeaders(response);
  }

  stats(): Record<string, unknown> {
    return { ...this.limiter.stats(), key: this.config.key ?? DEFAULT_KEY };
  }
}

/** The upstream's own x-ratelimit-* headers would contradict the gateway's: they are dropped. */
export function dropUpstreamLimitHeaders(response: { headers: Record<string, unknown> }): void {
  const headers = response.headers;
  for (const name of OUR_HEADERS) if (headers[name] !== undefined) delete headers[name];
}

export const rateLimit: FeatureModule<RateLimitConfig> = {
  name: 'rate_limit',
  order: ORDER.rate_limit,
  describe(config) {
    const tokens = config.tokens === undefined ? '' : ` and ${config.tokens} tokens`;
    return `${config.requests} requests${tokens} per ${config.per} (burst ${config.burst ?? config.requests}) per ${config.key ?? DEFAULT_KEY}; 429 rate_limit_exceeded over it`;
  },
  schema: {
    description:
      'Token-bucket rate limit per key. Every answer of the router carries OpenAI\'s `x-ratelimit-limit-requests`, ' +
      '`x-ratelimit-remaining-requests`, `x-ratelimit-reset-requests` headers (and the `-tokens` set with `tokens`); over ' +
      'the limit the answer is a 429 with code `rate_limit_exceeded` and `Retry-After`. Buckets live in the `state` store: ' +
      'they survive reloads, and replicas sharing Redis share them.',
    type: 'object',
    additionalProperties: false,
    required: ['requests', 'per'],
    properties: {
      requests: { description: 'Requests allowed per `per` (the bucket refills at this rate). Range: 1 to 1000000000.', type: 'integer', minimum: 1, maximum: 1_000_000_000 },
      per: bounded('duration', '1ms', '30d', 'The window the limits are counted over, e.g. `1m`.'),
      burst: {
        description: 'The bucket\'s size: how many requests may arrive at once. Default: `requests`. Range: 1 to 1000000000.',
        type: 'integer',
        minimum: 1,
        maximum: 1_000_000_000,
      },
      tokens: {
        description:
          'Tokens (prompt + completion, from each response\'s `usage`) allowed per `per`. A request needs a non-empty token ' +
          'bucket; what it used is charged when it is done. For streams the gateway asks the upstream for usage ' +
          '(`stream_options.include_usage`) and hides that extra event from clients that did not ask for it. Range: 1 to 1000000000000.',
        type: 'integer',
        minimum: 1,
        maximum: 1_000_000_000_000,
      },
      key: {
        description:
          `Who shares a bucket (default \`client_ip\`): ${CALLER_KEY_DESCRIPTION}`,
        type: 'string',
        pattern: CALLER_KEY_PATTERN,
        default: DEFAULT_KEY,
        examples: ['client_ip', 'key', 'team', 'header:x-user-id', 'global'],
      },
    },
  },
  create: (config, deps) => new RateLimitStage(config, deps),
};
