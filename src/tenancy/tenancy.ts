/**
 * Tenancy, compiled once per config: the key table, and for each key and team its rate
 * limit, its budget and its books (spend per period, shown by GET /keys). Every router gets
 * three stages from here, at their places on the ordered line: authentication (100), the
 * keys' and teams' rate limits (200) and their budgets (300). The limiters and ledgers are
 * shared by every router, so a key's limit and budget hold across all of them.
 */
import type { IncomingMessage } from 'node:http';
import { inspect } from 'node:util';
import type { Logger } from 'pino';
import type { GatewayConfig, KeyConfig, TenantBudget, TenantRateLimit } from '../config/types.js';
import { BudgetLedger, roundUsd } from '../features/budget-ledger.js';
import { BudgetGuard } from '../features/budget.js';
import { actualCost } from '../features/budget-estimate.js';
import { dropUpstreamLimitHeaders, RateLimiter, refusedCounter } from '../features/rate_limit.js';
import type { CounterChild, LocalCounter } from '../observability/local-metrics.js';
import type { Metrics } from '../observability/metrics.js';
import type { Caller } from '../pipeline/caller-key.js';
import type { RequestContext } from '../pipeline/context.js';
import type { Identity } from '../pipeline/identity.js';
import { inSequence } from '../pipeline/in-sequence.js';
import { STAGE_ORDER } from '../pipeline/order.js';
import type { PlacedStage, Stage } from '../pipeline/stage.js';
import type { Pricing } from '../pricing.js';
import type { ClientIp } from '../server/client-ip.js';
import type { StateStore } from '../state/store.js';
import type { EventSink } from '../events/events.js';
import { loadEncodingsFor } from '../tokens/index.js';
import type { UpstreamResponse } from '../providers/provider.js';
import { Authenticator } from './authenticate.js';
import { KeyTable, keyState } from './key-table.js';

export interface TenancyDeps {
  readonly state: StateStore;
  readonly now: () => number;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly pricing: Pricing;
  readonly clientIp: ClientIp;
  /** Where `budget.threshold` events go (the webhooks). */
  readonly events: EventSink;
}

/** A key's or team's limits and books. */
interface Tenant {
  readonly limiter: RateLimiter | null;
  readonly guard: BudgetGuard | null;
  /** The budget's ledger, or one that only keeps the books (month by month). */
  readonly books: BudgetLedger;
}

/** The limits and books a request answers to: its key's and its team's. */
interface Tenants {
  readonly key: Tenant | undefined;
  readonly team: Tenant | undefined;
}

const NO_TENANTS: Tenants = Object.freeze({ key: undefined, team: undefined });

/** Where an identity the gateway made finds its key's account. */
const ACCOUNT = Symbol('sidegate.key-account');

/** An identity made by tenancy's key check: it carries its key's account, so no stage looks the key up again. */
interface KeyIdentity extends Identity {
  readonly [ACCOUNT]: KeyAccount;
}

/**
 * One key as compiled, made once per config: its and its team's limits and books, and its
 * metric children (made when the key is first used: a config's keys are many, few are busy).
 * A request reaches it from its identity, without a lookup by name.
 */
class KeyAccount implements Tenants {
  /** `ai_gateway_key_requests_total` children by status (made on the key's first request). */
  private requests: Map<number, CounterChild> | null = null;
  private tokens: { prompt: CounterChild; completion: CounterChild } | null = null;

  constructor(
    readonly name: string,
    readonly teamName: string | null,
    readonly key: Tenant,
    readonly team: Tenant | undefined,
  ) {}

  count(counters: { requests: LocalCounter; tokens: LocalCounter }, status: number, prompt: number, completion: number): void {
    const team = this.teamName ?? '';
    const byStatus = (this.requests ??= new Map());
    let child = byStatus.get(status);
    if (!child) byStatus.set(status, (child = counters.requests.child(this.name, team, String(status))));
    child.inc();
    if (prompt <= 0 && completion <= 0) return;
    this.tokens ??= { prompt: counters.tokens.child(this.name, team, 'prompt'), completion: counters.tokens.child(this.name, team, 'completion') };
    if (prompt > 0) this.tokens.prompt.inc(prompt);
    if (completion > 0) this.tokens.completion.inc(completion);
  }

  /** A hook that prints its identity sees the key's name, not the limiters and books behind it. */
  [inspect.custom](): string {
    return `KeyAccount(${this.name})`;
  }
}

/** A stage with its place on the line and its `sidegate explain` line. */
export interface TenancyStage extends PlacedStage {
  readonly description: string;
}

export class Tenancy {
  readonly auth: Authenticator;
  readonly keys = new Map<string, Tenant>();
  readonly teams = new Map<string, Tenant>();
  /** Each key's account, by its place in the key table. */
  private readonly accounts: KeyAccount[] = [];
  /** The same by key name: for identities a hook made (they name a key, they carry no account). */
  private readonly accountsByName = new Map<string, KeyAccount>();
  private readonly hasLimits: boolean;
  private readonly hasTokenLimits: boolean;
  private readonly hasBudgets: boolean;
  private readonly counters: { requests: LocalCounter; tokens: LocalCounter };

  constructor(
    config: GatewayConfig,
    keys: readonly KeyConfig[],
    private readonly deps: TenancyDeps,
    models: readonly (string | null)[],
  ) {
    const teams = config.teams ?? {};
    const table = new KeyTable(keys, teams);
    this.auth = new Authenticator(table, deps.now, deps.logger);
    const refused = refusedCounter(deps.metrics);
    const ledger = (scope: 'key' | 'team', budget: TenantBudget | undefined, maxKnown?: number): BudgetLedger =>
      new BudgetLedger({
        router: '',
        scope,
        usd: budget?.usd ?? Infinity,
        period: budget?.period ?? 'month',
        state: deps.state,
        now: deps.now,
        logger: deps.logger,
        metrics: deps.metrics,
        events: deps.events,
        maxKnown,
      });
    // Keys and teams without a budget of their own share one ledger per scope that only keeps
    // the books (its entries are per spender, so the store holds the same as one ledger each
    // would), and those with neither a limit nor a budget share one Tenant: 10,000 keys cost
    // 10,000 records, not 10,000 ledgers.
    const books = { key: ledger('key', undefined, keys.length), team: ledger('team', undefined, Object.keys(teams).length) };
    const plain = { key: Object.freeze({ limiter: null, guard: null, books: books.key }), team: Object.freeze({ limiter: null, guard: null, books: books.team }) };
    const tenant = (scope: 'key' | 'team', name: string, limit: TenantRateLimit | undefined, budget: TenantBudget | undefined): Tenant => {
      if (!limit && !budget) return plain[scope];
      const limiter = limit ? new RateLimiter(limit, `${scope} "${name}"`, `rl:${scope}`, deps.state, deps.now, deps.logger, refused, '') : null;
      if (!budget) return { limiter, guard: null, books: books[scope] };
      const own = ledger(scope, budget);
      return { limiter, guard: new BudgetGuard(own, budget.usd, budget.period, deps.pricing, deps.now, { router: '', scope, metrics: deps.metrics }), books: own };
    };
    for (const [name, team] of Object.entries(teams)) this.teams.set(name, tenant('team', name, team.rate_limit, team.budget));
    for (const key of keys) this.keys.set(key.name, tenant('key', key.name, key.rate_limit, key.budget));
    for (const record of table.byName.values()) {
      const account = new KeyAccount(record.name, record.team, this.keys.get(record.name)!, record.team === null ? undefined : this.teams.get(record.team));
      this.accounts[record.index] = account;
      this.accountsByName.set(record.name, account);
    }
    const all = [...this.keys.values(), ...this.teams.values()];
    this.hasLimits = all.some((t) => t.limiter !== null);
    this.hasTokenLimits = all.some((t) => t.limiter?.tokens);
    this.hasBudgets = all.some((t) => t.guard !== null);
    if (this.hasBudgets) loadEncodingsFor([undefined, ...models]);
    this.counters = {
      requests: deps.metrics.localCounter('ai_gateway_key_requests_total', 'Requests answered per caller key (by its name, never the key) and team, by HTTP status.', ['key', 'team', 'status']),
      tokens: deps.metrics.localCounter('ai_gateway_key_tokens_total', 'Tokens reported in `usage` per caller key and team, by kind (prompt or completion).', ['key', 'team', 'kind']),
    };
  }

  get table(): KeyTable {
    return this.auth.table;
  }

  /** The identity of the key `req` presents on `router`, or throws the 401/403 to answer with. */
  identify(req: IncomingMessage, router: string): Identity {
    const record = this.auth.check(req, router);
    const identity: KeyIdentity = { key: record.name, team: record.team, labels: record.labels, clientIp: this.deps.clientIp(req), [ACCOUNT]: this.accounts[record.index]! };
    return identity;
  }

  /** The identity of a WebSocket upgrade on `router` (or throws its 401/403). */
  identifyUpgrade(req: IncomingMessage, router: string): Identity {
    return this.identify(req, router);
  }

  /** The stages of one router. */
  stagesFor(): TenancyStage[] {
    const stages: TenancyStage[] = [
      { stage: new AuthStage(this), order: STAGE_ORDER.authenticate, description: `tenancy: authenticate (${this.table.size} keys; 401 invalid_api_key, 403 router_not_allowed)` },
    ];
    if (this.hasLimits) {
      stages.push({ stage: new TenantLimitStage(this, this.hasTokenLimits), order: STAGE_ORDER.rate_limit, description: 'tenancy: the key\'s and its team\'s own rate limits' });
    }
    stages.push({ stage: new TenantBudgetStage(this), order: STAGE_ORDER.budget, description: 'tenancy: the key\'s and its team\'s budgets (reserve, then settle), and their spend' });
    return stages;
  }

  /** Counts one finished request for its key (a configured one: hooks' other names are not counted). */
  count(ctx: RequestContext): void {
    const identity = ctx.identity;
    const account = identity ? (carriedAccount(identity) ?? (identity.key ? this.accountsByName.get(identity.key) : undefined)) : undefined;
    if (!account) return;
    account.count(this.counters, ctx.clientClosed && !ctx.completed ? 499 : ctx.status, ctx.promptTokens, ctx.completionTokens);
  }

  /** Settles the request's holds and records its cost in its key's and team's books. */
  settle(ctx: RequestContext): void {
    const identity = ctx.identity;
    if (!identity?.key) return;
    const { key, team } = this.tenantOf(identity);
    const cost = actualCost(ctx, this.deps.pricing) ?? 0;
    if (key) settleIn(key, ctx, identity.key, cost);
    if (team && identity.team) settleIn(team, ctx, identity.team, cost);
  }

  /** The key's and the team's limits and books of `identity`: its account's, or looked up by the names a hook gave. */
  tenantOf(identity: Identity | null): Tenants {
    if (!identity) return NO_TENANTS;
    return carriedAccount(identity) ?? { key: identity.key ? this.keys.get(identity.key) : undefined, team: identity.team ? this.teams.get(identity.team) : undefined };
  }

  /** True when some key or team has a budget of its own (else requests only keep the books). */
  get budgeted(): boolean {
    return this.hasBudgets;
  }

  /** The /stats section: refusals, and each key's and team's spend as last seen. */
  stats(): Record<string, unknown> {
    const section = (tenants: Map<string, Tenant>): Record<string, unknown> => {
      const out: Record<string, unknown> = {};
      for (const [name, t] of tenants) {
        out[name] = {
          ...t.books.periodStats(),
          ...t.books.spenderStats(name),
          rate_limit: t.limiter ? t.limiter.stats() : null,
          refused: t.guard ? t.guard.refusedCount : 0,
        };
      }
      return out;
    };
    return { keys: section(this.keys), teams: section(this.teams), refused: { ...this.auth.refused } };
  }

  /** GET /keys: each key's name, team, state and spend (read from the state store); never a hash. */
  async report(): Promise<Record<string, unknown>> {
    const now = this.deps.now();
    const spend = async (name: string, tenant: Tenant): Promise<Record<string, unknown>> => {
      const level = await tenant.books.level(name);
      const limit = tenant.books.limited ? (tenant.books.periodStats().usd as number) : null;
      return {
        period: tenant.books.periodStats().period,
        period_start: new Date(level.period.start).toISOString(),
        resets_at: new Date(level.period.end).toISOString(),
        spend_usd: roundUsd(level.spend),
        reserved_usd: roundUsd(level.reserved),
        budget_usd: limit,
        remaining_usd: limit === null ? null : roundUsd(Math.max(0, limit - level.spend - level.reserved)),
      };
    };
    const keys = await Promise.all(
      [...this.table.byName.values()].map(async (record) => ({
        name: record.name,
        team: record.team,
        state: keyState(record, now),
        expires: record.expiresAt === null ? null : new Date(record.expiresAt).toISOString(),
        routers: record.routers ? [...record.routers] : null,
        labels: record.labels,
        spend: await spend(record.name, this.keys.get(record.name)!),
      })),
    );
    const teams: Record<string, unknown> = {};
    for (const [name, tenant] of this.teams) {
      teams[name] = { keys: keys.filter((k) => k.team === name).map((k) => k.name), spend: await spend(name, tenant) };
    }
    return { keys, teams };
  }
}

/** The account an identity tenancy made carries, unless a hook changed its key or team since. */
function carriedAccount(identity: Identity): KeyAccount | undefined {
  const account = (identity as Partial<KeyIdentity>)[ACCOUNT];
  return account !== undefined && account.name === identity.key && account.teamName === identity.team ? account : undefined;
}

/** A request's guard settles its hold; without one, its cost goes into the books. */
function settleIn(tenant: Tenant, ctx: RequestContext, who: string, cost: number): void {
  if (tenant.guard) tenant.guard.settle(ctx);
  else tenant.books.settle(who, null, cost);
}

/** 100: who the caller is (unless a hook placed before it already said). */
class AuthStage implements Stage {
  readonly name = 'authenticate';
  constructor(private readonly tenancy: Tenancy) {}

  authenticate(ctx: RequestContext): void {
    if (ctx.identity) return;
    ctx.identity = this.tenancy.identify(ctx.req, ctx.router!.name);
  }

  onDone(ctx: RequestContext): void {
    this.tenancy.count(ctx);
  }
}

/** 200: the key's own rate limit, then its team's. */
class TenantLimitStage implements Stage {
  readonly name = 'tenant_rate_limit';

  constructor(
    private readonly tenancy: Tenancy,
    private readonly tokens: boolean,
  ) {}

  onRequest(ctx: RequestContext): void | Promise<void> {
    return this.limit(ctx.res, ctx.identity);
  }

  /** A WebSocket session is one request for the key and its team. */
  onUpgrade(caller: Caller): void | Promise<void> {
    return this.limit(null, caller.identity);
  }

  private limit(res: RequestContext['res'] | null, identity: Identity | null): void | Promise<void> {
    const { key, team } = this.tenancy.tenantOf(identity);
    const checks: (() => void | Promise<void>)[] = [];
    if (key?.limiter) checks.push(() => key.limiter!.check(res, identity!.key!));
    if (team?.limiter) checks.push(() => team.limiter!.check(res, identity!.team!));
    return checks.length ? inSequence(checks) : undefined;
  }

  onResponse(_ctx: RequestContext, response: UpstreamResponse): void {
    dropUpstreamLimitHeaders(response);
  }

  onDone(ctx: RequestContext): void {
    if (!this.tokens) return;
    const { key, team } = this.tenancy.tenantOf(ctx.identity);
    if (key?.limiter) key.limiter.charge(ctx, ctx.identity!.key!);
    if (team?.limiter) team.limiter.charge(ctx, ctx.identity!.team!);
  }
}

/** 300: the key's budget, then its team's (a refusal releases what was reserved when the request is done). */
class TenantBudgetStage implements Stage {
  readonly name = 'tenant_budget';
  constructor(private readonly tenancy: Tenancy) {}

  onRequest(ctx: RequestContext): void | Promise<void> {
    const identity = ctx.identity;
    if (!identity?.key || !this.tenancy.budgeted) return;
    const { key, team } = this.tenancy.tenantOf(identity);
    const checks: (() => void | Promise<void>)[] = [];
    if (key?.guard) checks.push(() => key.guard!.check(ctx, identity.key!));
    if (team?.guard) checks.push(() => team.guard!.check(ctx, identity.team!));
    return checks.length ? inSequence(checks) : undefined;
  }

  onDone(ctx: RequestContext): void {
    this.tenancy.settle(ctx);
  }
}
