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
import { CALLER_KEY_PATTERN, callerKeyFunction, type CallerKeyOf } from '../pipeline/caller-key.js';

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

/** The bucket id a request's tokens are charged to. */
const LOCAL_KEY = slot<string>('rate_limit_key');

/**
 * Token buckets per key in the gateway's state store (memory or Redis, atomic there),
 * so buckets survive reloads and replicas sharing Redis share them. A request takes one
 * request token and needs at least one token of the token bucket; the tokens a response
 * used (its `usage`, streams included) are charged when it is done.
 */
class RateLimitStage implements Stage {
  readonly name = 'rate_limit';
  private readonly keyOf: CallerKeyOf;
  private readonly requests: Limit;
  private readonly tokens: Limit | null;
  private readonly prefix: string;
  private readonly limited = { requests: 0, tokens: 0 };
  private readonly state: StateStore;
  private readonly now: () => number;
  private readonly logger: CompileDeps['logger'];
  private readonly routerName: string;

  /** Set only when a token limit needs usage from streams. */
  readonly onDone?: (ctx: RequestContext) => void;

  constructor(
    private readonly config: RateLimitConfig,
    deps: CompileDeps,
  ) {
    this.state = deps.state;
    this.now = deps.now;
    this.logger = deps.logger;
    this.routerName = deps.routerName;
    this.keyOf = callerKeyFunction(config.key ?? DEFAULT_KEY, deps.clientIp);
    this.prefix = `rl:${deps.routerName}:`;
    const perMs = parseDuration(config.per);
    const refused = deps.metrics.counter('ai_gateway_rate_limited_total', 'Requests refused with 429 by a rate limit, by router and limit (requests or tokens).', ['router', 'limit']);
    const limit = (kind: 'requests' | 'tokens', per: number, capacity: number): Limit => ({
      kind,
      capacity,
      interval: perMs / per,
      limitText: String(capacity),
      perText: config.per,
      limitHeader: kind === 'requests' ? HEADERS.limitRequests : HEADERS.limitTokens,
      remainingHeader: kind === 'requests' ? HEADERS.remainingRequests : HEADERS.remainingTokens,
      resetHeader: kind === 'requests' ? HEADERS.resetRequests : HEADERS.resetTokens,
      refused: refused.labels(deps.routerName, kind),
    });
    this.requests = limit('requests', config.requests, config.burst ?? config.requests);
    this.tokens = config.tokens === undefined ? null : limit('tokens', config.tokens, config.tokens);
    if (this.tokens) {
      this.onDone = this.chargeTokens;
    }
  }

  private spec(limit: Limit, id: string, cost: number, need: number): BucketSpec {
    return { key: `${this.prefix}${limit.kind}:${id}`, capacity: limit.capacity, interval: limit.interval, cost, need };
  }

  onRequest(ctx: RequestContext): void | Promise<void> {
    const id = this.keyOf(ctx);
    const specs = [this.spec(this.requests, id, 1, 1)];
    if (this.tokens) {
      specs.push(this.spec(this.tokens, id, 0, 1));
      ctx.set(LOCAL_KEY, id);
    }
    const now = this.now();
    const result = this.state.take(specs, now);
    return result instanceof Promise ? result.then((r) => this.decide(ctx, r)) : this.decide(ctx, result);
  }

  /** Sets the x-ratelimit-* headers (every answer carries them); refuses when a bucket is empty. */
  private decide(ctx: RequestContext, result: BucketResult): void {
    const res = ctx.res;
    const requestsLeft = result.tokens[0]!;
    this.setHeaders(res, this.requests, requestsLeft);
    const tokensLeft = this.tokens ? result.tokens[1]! : 0;
    if (this.tokens) this.setHeaders(res, this.tokens, tokensLeft);
    if (result.allowed) return;
    const denied = requestsLeft < 1 ? this.requests : this.tokens!;
    const waitMs = (1 - (denied === this.requests ? requestsLeft : tokensLeft)) * denied.interval;
    denied.refused.inc();
    this.limited[denied.kind]++;
    const retryIn = formatReset(waitMs);
    throw new GatewayError(
      'rate_limit_exceeded',
      `Rate limit reached for ${denied.kind} on router "${this.routerName}": limit ${denied.limitText} per ${denied.perText}. Please try again in ${retryIn}.`,
      { type: denied.kind, headers: { 'retry-after': String(Math.max(1, Math.ceil(waitMs / 1000))) } },
    );
  }

  private setHeaders(res: RequestContext['res'], limit: Limit, left: number): void {
    res.setHeader(limit.limitHeader, limit.limitText);
    res.setHeader(limit.remainingHeader, String(Math.max(0, Math.floor(left))));
    res.setHeader(limit.resetHeader, formatReset((limit.capacity - left) * limit.interval));
  }

  /** The upstream's own x-ratelimit-* headers would contradict ours: ours win. */
  onResponse(_ctx: RequestContext, response: UpstreamResponse): void {
    const headers = response.headers;
    for (const name of OUR_HEADERS) if (headers[name] !== undefined) delete headers[name];
  }

  private chargeTokens(ctx: RequestContext): void {
    const used = Math.max(0, ctx.promptTokens) + Math.max(0, ctx.completionTokens);
    const id = ctx.get(LOCAL_KEY);
    if (used === 0 || id === undefined) return;
    const charged = this.state.take([this.spec(this.tokens!, id, used, 0)], this.now(), true);
    if (charged instanceof Promise) charged.catch((err: unknown) => this.logger.warn({ err }, 'rate_limit: charging tokens failed'));
  }

  stats(): Record<string, unknown> {
    return {
      requests: this.config.requests,
      per: this.config.per,
      burst: this.requests.capacity,
      tokens: this.config.tokens ?? null,
      key: this.config.key ?? DEFAULT_KEY,
      backend: this.state.backend,
      refused: { ...this.limited },
    };
  }
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
      requests: { description: 'Requests allowed per `per` (the bucket refills at this rate).', type: 'integer', minimum: 1 },
      per: { $ref: '#/$defs/duration', description: 'The window the limits are counted over, e.g. `1m`.' },
      burst: {
        description: 'The bucket\'s size: how many requests may arrive at once. Default: `requests`.',
        type: 'integer',
        minimum: 1,
      },
      tokens: {
        description:
          'Tokens (prompt + completion, from each response\'s `usage`) allowed per `per`. A request needs a non-empty token ' +
          'bucket; what it used is charged when it is done. For streams the gateway asks the upstream for usage ' +
          '(`stream_options.include_usage`) and hides that extra event from clients that did not ask for it.',
        type: 'integer',
        minimum: 1,
      },
      key: {
        description:
          'Who shares a bucket: `client_ip` (default; `X-Forwarded-For` is honoured only from `server.trusted_proxies`), ' +
          '`api_key` (a hash of the caller\'s bearer token, never the token), `header:<name>` (a hash of that header\'s ' +
          'value), or `global` (one bucket for the router).',
        type: 'string',
        pattern: CALLER_KEY_PATTERN,
        default: DEFAULT_KEY,
        examples: ['client_ip', 'api_key', 'header:x-user-id', 'global'],
      },
    },
  },
  create: (config, deps) => new RateLimitStage(config, deps),
};
