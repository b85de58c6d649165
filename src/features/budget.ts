import type { FeatureModule } from './feature.js';
import { ORDER } from './feature.js';
import type { CompileDeps } from '../pipeline/compile-deps.js';
import type { RequestContext } from '../pipeline/context.js';
import type { Stage } from '../pipeline/stage.js';
import { GatewayError } from '../errors.js';
import { slot, type Slot } from '../pipeline/slot.js';
import type { Pricing } from '../pricing.js';
import { loadEncodingsFor } from '../tokens/index.js';
import { BudgetLedger, DEFAULT_THRESHOLDS, roundUsd, type BudgetPeriod, type Hold, type Period } from './budget-ledger.js';
import { actualCost, estimatedCost } from './budget-estimate.js';
import type { ReserveResult } from '../state/store.js';

export { periodOf, type BudgetPeriod, type Period } from './budget-ledger.js';

export type BudgetScopeName = 'router' | 'key' | 'team';

export interface BudgetConfig {
  usd: number;
  period: BudgetPeriod;
  scope?: BudgetScopeName;
  /** Fractions of `usd` whose crossing sends a `budget.threshold` event. */
  thresholds?: number[];
}

/** The spender of a request under each scope, or null when the budget does not apply to it. */
const SCOPES: Record<BudgetScopeName, (deps: CompileDeps) => (ctx: RequestContext) => string | null> = {
  router: (deps) => {
    const name = deps.routerName;
    return () => name;
  },
  key: () => (ctx) => ctx.identity?.key ?? null,
  team: () => (ctx) => ctx.identity?.team ?? null,
};

/** 429 budget_exceeded, naming the spender, what is spent and reserved, and when it resets. */
export function budgetExceeded(ledger: BudgetLedger, who: string, usd: number, period: BudgetPeriod, level: ReserveResult, end: Period, now: number): GatewayError {
  const seconds = Math.max(1, Math.ceil((end.end - now) / 1000));
  const reserved = level.reserved > 0 ? ` (and $${roundUsd(level.reserved)} reserved by requests in flight)` : '';
  return new GatewayError(
    'budget_exceeded',
    `Budget exceeded for ${ledger.describe(who)}: $${roundUsd(level.spend)} spent${reserved} of $${usd} this ${period} (UTC); ` +
      `it resets at ${new Date(end.end).toISOString()}.`,
    { headers: { 'retry-after': String(seconds) } },
  );
}

/**
 * A budget checked on the request path: reserve the request's estimated cost (or refuse),
 * settle its real cost when it is done. The budget feature uses one per router; tenancy
 * one per key or team budget. Each has its own slot for the request's hold.
 */
export class BudgetGuard {
  private readonly hold: Slot<Hold>;
  refusedCount = 0;
  unpricedCount = 0;
  private readonly refused: { inc(): void };
  private readonly unpriced: { inc(): void };

  constructor(
    readonly ledger: BudgetLedger,
    private readonly usd: number,
    private readonly period: BudgetPeriod,
    private readonly pricing: Pricing,
    private readonly now: () => number,
    labels: { router: string; scope: string; metrics: CompileDeps['metrics'] },
  ) {
    this.hold = slot<Hold>(`budget:${labels.router}:${labels.scope}`);
    const m = labels.metrics;
    this.refused = m.counter('ai_gateway_budget_exceeded_total', 'Requests refused with 429 budget_exceeded, by router and scope.', ['router', 'scope']).labels(labels.router, labels.scope);
    this.unpriced = m.counter('ai_gateway_budget_unpriced_total', 'Responses a budget could not charge: their model has no price in `pricing`.', ['router']).labels(labels.router);
  }

  /** Reserves for `who` (throws budget_exceeded when spent); the hold is settled by `settle`. */
  check(ctx: RequestContext, who: string): void | Promise<void> {
    const result = this.ledger.reserve(who, estimatedCost(ctx, this.pricing));
    return result instanceof Promise ? result.then((r) => this.decide(ctx, who, r)) : this.decide(ctx, who, result);
  }

  private decide(ctx: RequestContext, who: string, result: Hold | { refused: ReserveResult; period: Period }): void {
    if ('refused' in result) {
      this.refused.inc();
      this.refusedCount++;
      throw budgetExceeded(this.ledger, who, this.usd, this.period, result.refused, result.period, this.now());
    }
    ctx.set(this.hold, result);
  }

  /** Settles the request's hold with what it really cost (a request that never reserved costs nothing here). */
  settle(ctx: RequestContext): void {
    const hold = ctx.get(this.hold);
    if (!hold) return;
    const cost = actualCost(ctx, this.pricing);
    if (cost === null) {
      this.unpriced.inc();
      this.unpricedCount++;
    }
    this.ledger.settle(hold.who, hold, cost ?? 0);
  }
}

/** A guard with its ledger, for one budget config (encodings for its estimates loaded now, at compile time). */
export function budgetGuard(
  config: { usd: number; period: BudgetPeriod; thresholds?: number[] },
  scope: string,
  deps: Pick<CompileDeps, 'state' | 'now' | 'logger' | 'metrics' | 'pricing' | 'targets' | 'events'>,
  router: string,
): BudgetGuard {
  loadEncodingsFor([undefined, ...deps.targets.map((t) => t.model)]);
  const ledger = new BudgetLedger({
    router,
    scope,
    usd: config.usd,
    period: config.period,
    state: deps.state,
    now: deps.now,
    logger: deps.logger,
    metrics: deps.metrics,
    thresholds: config.thresholds,
    events: deps.events,
  });
  return new BudgetGuard(ledger, config.usd, config.period, deps.pricing, deps.now, { router, scope, metrics: deps.metrics });
}

/**
 * A USD spend limit per calendar period, for the router, each key or each team. Before
 * any upstream call the request's estimated cost is reserved atomically (memory, or one
 * Lua script in Redis) and a spent budget answers 429 `budget_exceeded`; when the
 * response is done its real cost (`usage` × `pricing`) is settled in place of the
 * reservation.
 */
class BudgetStage implements Stage {
  readonly name = 'budget';
  private readonly spenderOf: (ctx: RequestContext) => string | null;
  private readonly guard: BudgetGuard;
  private readonly scope: BudgetScopeName;

  constructor(
    private readonly config: BudgetConfig,
    private readonly deps: CompileDeps,
  ) {
    this.scope = config.scope ?? 'router';
    this.spenderOf = SCOPES[this.scope](deps);
    this.guard = budgetGuard(config, this.scope, deps, deps.routerName);
  }

  onRequest(ctx: RequestContext): void | Promise<void> {
    const who = this.spenderOf(ctx);
    if (who === null) return;
    return this.guard.check(ctx, who);
  }

  onDone(ctx: RequestContext): void {
    this.guard.settle(ctx);
  }

  stats(): Record<string, unknown> {
    return {
      ...this.guard.ledger.periodStats(),
      scope: this.scope,
      spenders: this.guard.ledger.spenders(),
      refused: this.guard.refusedCount,
      unpriced: this.guard.unpricedCount,
      backend: this.deps.state.backend,
    };
  }
}

export const budget: FeatureModule<BudgetConfig> = {
  name: 'budget',
  order: ORDER.budget,
  describe: (config) => `$${config.usd} per ${config.period} (calendar UTC) for ${config.scope === 'key' ? 'each key' : config.scope === 'team' ? 'each team' : 'the router'}; each request reserves its estimated cost; 429 budget_exceeded once spent`,
  schema: {
    description:
      'A USD spend limit per calendar period (UTC). Before the upstream call each request reserves its estimated cost (its ' +
      'prompt\'s tokens at the input price plus `max_tokens`, or the model\'s output limit, at the output price, from the ' +
      '`pricing` table) in one atomic step, and is admitted only while spend plus reservations is below `usd`: else 429 ' +
      '`budget_exceeded` (with `Retry-After` until the period ends). When it is done, its real cost (its `usage`) replaces ' +
      'the reservation; a reservation never settled expires after 10 minutes. So concurrent requests never overspend by more ' +
      'than one request\'s reservation, also across replicas sharing Redis. Spend lives in the `state` store and survives reloads.',
    type: 'object',
    additionalProperties: false,
    required: ['usd', 'period'],
    properties: {
      usd: { description: 'The spend limit in USD per period, e.g. `25`. Range: above 0, up to 1000000000.', type: 'number', exclusiveMinimum: 0, maximum: 1_000_000_000 },
      period: {
        description: 'The calendar period in UTC: `day`, `week` (ISO, from Monday 00:00) or `month`. Spend starts at 0 at each period\'s start.',
        enum: ['day', 'week', 'month'],
      },
      scope: {
        description:
          'Whose spend is limited: `router` (default: all of this router\'s traffic together), `key` (each caller key, by ' +
          'its name in `auth.keys`, on its own) or `team` (each key\'s team). Requests with no key (or no team) are not ' +
          'limited by a `key` (or `team`) budget.',
        enum: ['router', 'key', 'team'],
        default: 'router',
      },
      thresholds: {
        description:
          'Fractions of `usd` (above 0, at most 1; at most 10 of them) whose crossing is logged and sent as a `budget.threshold` ' +
          'event to the `webhooks`, once per period each, by the settlement that crosses it (exactly one, also across ' +
          'replicas). Default `[0.8, 1]`.',
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
