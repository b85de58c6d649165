import type { FeatureModule } from './feature.js';
import { ORDER } from './feature.js';
import type { CompileDeps } from '../pipeline/compile-deps.js';
import type { RequestContext } from '../pipeline/context.js';
import type { Stage } from '../pipeline/stage.js';
import { GatewayError } from '../errors.js';
import type { StateStore } from '../state/store.js';

export type BudgetPeriod = 'day' | 'week' | 'month';

export interface BudgetConfig {
  usd: number;
  period: BudgetPeriod;
  scope?: 'router';
  /** Fractions of `usd` whose crossing sends a `budget.threshold` event. */
  thresholds?: number[];
}

const DEFAULT_THRESHOLDS = [0.8, 1];

const DAY_MS = 86_400_000;

/** One calendar period in UTC: [start, end) in epoch ms, and a stamp naming it in keys. */
export interface Period {
  readonly stamp: string;
  readonly start: number;
  readonly end: number;
}

/** The calendar UTC period (day; ISO week from Monday; month) that `now` falls in. */
export function periodOf(kind: BudgetPeriod, now: number): Period {
  const d = new Date(now);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  if (kind === 'month') {
    const start = Date.UTC(y, m, 1);
    return { stamp: new Date(start).toISOString().slice(0, 7), start, end: Date.UTC(y, m + 1, 1) };
  }
  const day = Date.UTC(y, m, d.getUTCDate());
  const start = kind === 'week' ? day - ((d.getUTCDay() + 6) % 7) * DAY_MS : day;
  const stamp = new Date(start).toISOString().slice(0, 10);
  return { stamp: kind === 'week' ? `w${stamp}` : stamp, start, end: start + (kind === 'week' ? 7 * DAY_MS : DAY_MS) };
}

/**
 * Whose spend a request counts against. Only the router itself today; per API key and per
 * team plug in here once tenancy exists (a scope returns that caller's key).
 */
export interface BudgetScope {
  readonly name: string;
  /** The spender this request belongs to, or null when the budget does not apply to it. */
  keyOf(ctx: RequestContext): string | null;
}

const SCOPES: Record<NonNullable<BudgetConfig['scope']>, (deps: CompileDeps) => BudgetScope> = {
  router: (deps) => {
    const key = deps.routerName;
    return { name: 'router', keyOf: () => key };
  },
};

interface Known {
  spend: number;
  period: Period;
}

/**
 * A USD spend limit per calendar period. Before any upstream call the spend so far is read
 * from the state store and a spent budget answers 429 `budget_exceeded`; the request that
 * crosses the limit completes. When a response is done its cost (`usage` × `pricing`) is
 * added to a counter stamped with the period, which expires after it.
 */
class BudgetStage implements Stage {
  readonly name = 'budget';
  private readonly scope: BudgetScope;
  private readonly thresholds: readonly number[];
  private readonly state: StateStore;
  private readonly now: () => number;
  private readonly prefix: string;
  private period: Period;
  /** The last spend seen per spender (for /stats and the gauges). */
  private readonly known = new Map<string, Known>();
  private refusedCount = 0;
  private unpricedCount = 0;
  private readonly gauges: { spend: { set(v: number): void }; remaining: { set(v: number): void }; reset: { set(v: number): void } };
  private readonly refused: { inc(): void };
  private readonly unpriced: { inc(): void };

  constructor(
    private readonly config: BudgetConfig,
    private readonly deps: CompileDeps,
  ) {
    this.scope = SCOPES[config.scope ?? 'router'](deps);
    this.thresholds = config.thresholds ?? DEFAULT_THRESHOLDS;
    this.state = deps.state;
    this.now = deps.now;
    this.prefix = `budget:${deps.routerName}:${this.scope.name}:`;
    this.period = periodOf(config.period, deps.now());
    const labels = [deps.routerName, this.scope.name] as const;
    const m = deps.metrics;
    this.gauges = {
      spend: m.gauge('ai_gateway_budget_spend_usd', 'USD spent in the current budget period, by router and scope.', ['router', 'scope']).labels(...labels),
      remaining: m.gauge('ai_gateway_budget_remaining_usd', 'USD left in the current budget period, by router and scope.', ['router', 'scope']).labels(...labels),
      reset: m.gauge('ai_gateway_budget_reset_timestamp_seconds', 'When the current budget period ends (Unix seconds), by router and scope.', ['router', 'scope']).labels(...labels),
    };
    this.refused = m.counter('ai_gateway_budget_exceeded_total', 'Requests refused with 429 budget_exceeded, by router and scope.', ['router', 'scope']).labels(...labels);
    this.unpriced = m.counter('ai_gateway_budget_unpriced_total', 'Responses a budget could not charge: their model has no price in `pricing`.', ['router']).labels(deps.routerName);
  }

  /** The current period, recomputed only when the clock passed its end. */
  private current(now: number): Period {
    if (now >= this.period.end || now < this.period.start) this.period = periodOf(this.config.period, now);
    return this.period;
  }

  private note(who: string, spend: number, period: Period): void {
    this.known.set(who, { spend, period });
    this.gauges.spend.set(spend);
    this.gauges.remaining.set(Math.max(0, this.config.usd - spend));
    this.gauges.reset.set(period.end / 1000);
  }

  onRequest(ctx: RequestContext): void | Promise<void> {
    const who = this.scope.keyOf(ctx);
    if (who === null) return;
    const period = this.current(this.now());
    const spend = this.state.getSpend(`${this.prefix}${who}:${period.stamp}`);
    return spend instanceof Promise ? spend.then((s) => this.check(who, s, period)) : this.check(who, spend, period);
  }

  private check(who: string, spend: number, period: Period): void {
    this.note(who, spend, period);
    if (spend < this.config.usd) return;
    this.refused.inc();
    this.refusedCount++;
    const seconds = Math.max(1, Math.ceil((period.end - this.now()) / 1000));
    throw new GatewayError(
      'budget_exceeded',
      `Budget exceeded for ${this.scope.name === 'router' ? `router "${who}"` : `${this.scope.name} "${who}"`}: ` +
        `$${round(spend)} spent of $${this.config.usd} this ${this.config.period} (UTC); it resets at ${new Date(period.end).toISOString()}.`,
      { headers: { 'retry-after': String(seconds) } },
    );
  }

  onDone(ctx: RequestContext): void {
    if (ctx.promptTokens <= 0 && ctx.completionTokens <= 0) return;
    const who = this.scope.keyOf(ctx);
    if (who === null) return;
    const model = ctx.model ?? '';
    const cost = this.deps.pricing.cost(model, ctx.promptTokens, ctx.completionTokens, ctx.cachedTokens, ctx.cacheWriteTokens);
    if (cost === null) {
      this.unpriced.inc();
      this.unpricedCount++;
      if (this.deps.logger.isLevelEnabled('debug')) this.deps.logger.debug({ router: this.deps.routerName, model }, 'budget: no price for this model; not charged');
      return;
    }
    if (cost === 0) return;
    const period = this.current(this.now());
    const total = this.state.addSpend(`${this.prefix}${who}:${period.stamp}`, cost, period.end + DAY_MS);
    if (total instanceof Promise) {
      total.then(
        (t) => this.charged(who, t, cost, period),
        (err: unknown) => this.deps.logger.warn({ err }, 'budget: recording spend failed'),
      );
    } else {
      this.charged(who, total, cost, period);
    }
  }

  /**
   * After a charge: the gauges, and a `budget.threshold` event for each threshold this
   * very charge crossed (the store returns the total after it, so with Redis exactly one
   * replica sees each crossing).
   */
  private charged(who: string, total: number, cost: number, period: Period): void {
    this.note(who, total, period);
    const before = total - cost;
    for (const fraction of this.thresholds) {
      const limit = fraction * this.config.usd;
      if (before >= limit || total < limit) continue;
      this.deps.events.emit('budget.threshold', {
        router: this.deps.routerName,
        scope: this.scope.name,
        spender: who,
        threshold: fraction,
        spend_usd: round(total),
        limit_usd: this.config.usd,
        period: period.stamp,
        resets_at: new Date(period.end).toISOString(),
      });
    }
  }

  stats(): Record<string, unknown> {
    const now = this.now();
    const period = this.current(now);
    const spenders: Record<string, unknown> = {};
    for (const [who, known] of this.known) {
      const spend = known.period.stamp === period.stamp ? known.spend : 0;
      spenders[who] = { spend_usd: round(spend), remaining_usd: round(Math.max(0, this.config.usd - spend)) };
    }
    return {
      usd: this.config.usd,
      period: this.config.period,
      scope: this.scope.name,
      period_start: new Date(period.start).toISOString(),
      resets_at: new Date(period.end).toISOString(),
      spenders,
      refused: this.refusedCount,
      unpriced: this.unpricedCount,
      backend: this.state.backend,
    };
  }
}

function round(usd: number): number {
  return Math.round(usd * 1e6) / 1e6;
}

export const budget: FeatureModule<BudgetConfig> = {
  name: 'budget',
  order: ORDER.budget,
  describe: (config) => `$${config.usd} per ${config.period} (calendar UTC) for the ${config.scope ?? 'router'}; 429 budget_exceeded once spent`,
  schema: {
    description:
      'A USD spend limit per calendar period (UTC). Cost is computed from each response\'s `usage` and the `pricing` table. ' +
      'Once the period\'s spend reaches `usd`, requests get 429 `budget_exceeded` (with `Retry-After` until the period ends) ' +
      'before any upstream call; the request that crosses the limit completes. Spend lives in the `state` store: it survives ' +
      'reloads, and replicas sharing Redis share it.',
    type: 'object',
    additionalProperties: false,
    required: ['usd', 'period'],
    properties: {
      usd: { description: 'The spend limit in USD per period, e.g. `25`.', type: 'number', exclusiveMinimum: 0 },
      period: {
        description: 'The calendar period in UTC: `day`, `week` (ISO, from Monday 00:00) or `month`. Spend starts at 0 at each period\'s start.',
        enum: ['day', 'week', 'month'],
      },
      scope: {
        description: 'Whose spend is limited: `router` (default: all of this router\'s traffic together).',
        enum: ['router'],
        default: 'router',
      },
      thresholds: {
        description:
          'Fractions of `usd` (above 0, at most 1; at most 10 of them) at which a `budget.threshold` event is sent to the ' +
          '`webhooks`, once per period each, by the request whose charge crosses it. Default `[0.8, 1]`.',
        type: 'array',
        maxItems: 10,
        uniqueItems: true,
        items: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
        default: DEFAULT_THRESHOLDS,
      },
    },
  },
  create: (config, deps) => new BudgetStage(config, deps),
};
