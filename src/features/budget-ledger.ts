/**
 * One budget's books: per spender (a router, a key, a team) and calendar period, the spend
 * settled and the reservations of requests in flight, kept in the state store (memory, or
 * Redis shared by every replica). A request reserves its estimated cost atomically before
 * its call, and is admitted only while spend plus reservations is below the limit; so N
 * concurrent requests against the last dollar do not all pass, and spend exceeds the limit
 * by at most one request's reservation. It settles its real cost when it is done; a
 * reservation never settled (the client left, the process died) expires after HOLD_MS.
 * Used by the budget feature and by tenancy's key and team budgets.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Metrics } from '../observability/metrics.js';
import type { EventSink } from '../events/events.js';
import type { BudgetHold, BudgetLevel, MaybePromise, ReserveResult, SettleResult, StateStore } from '../state/store.js';

export type BudgetPeriod = 'day' | 'week' | 'month';

const DAY_MS = 86_400_000;
/** How long a reservation holds without being settled: longer than any request should take. */
export const HOLD_MS = 10 * 60_000;
/** The fractions of the limit whose crossing is logged and sent (once per period: by the settlement that crosses it). */
export const DEFAULT_THRESHOLDS: readonly number[] = Object.freeze([0.8, 1]);
/** Spenders given their own metric children at most (beyond: /stats only), and remembered for /stats. */
const MAX_LABELLED = 256;
const MAX_KNOWN = 4096;

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

/** What `budget.threshold` carries (the webhooks event of the same name). */
interface ThresholdCrossing {
  readonly router: string;
  readonly scope: string;
  readonly spender: string;
  readonly threshold: number;
  readonly spend_usd: number;
  readonly limit_usd: number;
  readonly period: string;
  readonly resets_at: string;
}

export interface LedgerOptions {
  /** The router whose budget this is, or '' for a key's or team's own (across routers). */
  readonly router: string;
  /** `router`, `key` or `team`: whose spend it counts. */
  readonly scope: string;
  /** The limit in USD per period; Infinity only keeps the books (spend shown in /keys). */
  readonly usd: number;
  readonly period: BudgetPeriod;
  readonly state: StateStore;
  readonly now: () => number;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Spenders remembered for /stats at most; default 4096 (tenancy's books name every key they may count). */
  readonly maxKnown?: number;
  /** Fractions of `usd` whose crossing is reported; default DEFAULT_THRESHOLDS. */
  readonly thresholds?: readonly number[];
  /** Where `budget.threshold` events go (the webhooks). */
  readonly events: EventSink;
}

/** A request's reservation, with the period it was taken in. */
export interface Hold extends BudgetHold {
  readonly who: string;
  readonly period: Period;
}

/** What a spender's books said when last read (updated in place: it is read on every request). */
interface Known {
  spend: number;
  reserved: number;
  period: Period;
}

interface Gauges {
  spend: { set(v: number): void };
  reserved: { set(v: number): void };
  remaining: { set(v: number): void };
  reset: { set(v: number): void };
}

export function roundUsd(usd: number): number {
  return Math.round(usd * 1e6) / 1e6;
}

export class BudgetLedger {
  private period: Period;
  private readonly prefix: string;
  private readonly known = new Map<string, Known>();
  private readonly gauges = new Map<string, Gauges | null>();

  constructor(private readonly options: LedgerOptions) {
    this.period = periodOf(options.period, options.now());
    this.prefix = `budget:{${options.router}:${options.scope}:`;
  }

  get limited(): boolean {
    return Number.isFinite(this.options.usd);
  }

  /** The current period, recomputed only when the clock passed its end. */
  current(now = this.options.now()): Period {
    if (now >= this.period.end || now < this.period.start) this.period = periodOf(this.options.period, now);
    return this.period;
  }

  /** The store key of one spender's period; `{…}` makes its three Redis keys one hash slot. */
  private key(who: string, period: Period): string {
    return `${this.prefix}${who}:${period.stamp}}`;
  }

  /** Checks and reserves `usd` for `who`: the hold when admitted, null when the budget is spent. */
  reserve(who: string, usd: number): MaybePromise<Hold | { refused: ReserveResult; period: Period }> {
    const now = this.options.now();
    const period = this.current(now);
    const hold: Hold = { key: this.key(who, period), id: randomUUID(), usd, who, period };
    const result = this.options.state.reserve(hold, this.options.usd, now, HOLD_MS, period.end + DAY_MS);
    const decide = (r: ReserveResult): Hold | { refused: ReserveResult; period: Period } => {
      this.note(who, r, period);
      return r.allowed ? hold : { refused: r, period };
    };
    return result instanceof Promise ? result.then(decide) : decide(result);
  }

  /** Releases a hold (if any) and adds what the request really cost. Never throws. */
  settle(who: string, hold: Hold | null, usd: number): void {
    if (!hold && usd <= 0) return;
    const period = hold?.period ?? this.current();
    const key = hold?.key ?? this.key(who, period);
    const done = (r: SettleResult): void => {
      this.note(who, r, period);
      if (this.limited && usd > 0) this.crossings(who, r, period);
    };
    try {
      const result = this.options.state.settle(key, hold, usd, period.end + DAY_MS);
      if (result instanceof Promise) result.then(done, (err: unknown) => this.options.logger.warn({ err }, 'budget: settling spend failed'));
      else done(result);
    } catch (err) {
      this.options.logger.warn({ err }, 'budget: settling spend failed');
    }
  }

  /** The spend and reservations of `who` now, read from the store. */
  async level(who: string): Promise<BudgetLevel & { period: Period }> {
    const now = this.options.now();
    const period = this.current(now);
    const level = await this.options.state.budgetLevel(this.key(who, period), now);
    this.note(who, level, period);
    return { ...level, period };
  }

  /** Logs (and reports) each threshold this very settlement crossed: exactly one settlement crosses it. */
  private crossings(who: string, r: SettleResult, period: Period): void {
    for (const fraction of this.options.thresholds ?? DEFAULT_THRESHOLDS) {
      const line = fraction * this.options.usd;
      if (r.before >= line || r.spend < line) continue;
      const crossing: ThresholdCrossing = {
        router: this.options.router,
        scope: this.options.scope,
        spender: who,
        threshold: fraction,
        spend_usd: roundUsd(r.spend),
        limit_usd: this.options.usd,
        period: period.stamp,
        resets_at: new Date(period.end).toISOString(),
      };
      this.options.logger.warn(crossing, `budget: ${this.describe(who)} reached ${Math.round(fraction * 100)}% of $${this.options.usd} this ${this.options.period}`);
      this.options.events.emit('budget.threshold', crossing);
    }
  }

  /** `router "main"`, `key "checkout"`, `team "payments"`. */
  describe(who: string): string {
    return `${this.options.scope} "${who}"`;
  }

  private gaugesOf(who: string): Gauges | null {
    let gauges = this.gauges.get(who);
    if (gauges !== undefined) return gauges;
    gauges = null;
    if (this.gauges.size < MAX_LABELLED) {
      const m = this.options.metrics;
      const names = ['router', 'scope', 'spender'];
      const labels = [this.options.router, this.options.scope, who];
      gauges = {
        spend: m.localGauge('ai_gateway_budget_spend_usd', 'USD spent (settled) in the current budget period, by router ("" for a key\'s or team\'s own budget), scope and spender.', names).child(...labels),
        reserved: m.localGauge('ai_gateway_budget_reserved_usd', 'USD reserved by requests in flight, not settled yet, by router, scope and spender.', names).child(...labels),
        remaining: m.localGauge('ai_gateway_budget_remaining_usd', 'USD left in the current budget period (limit less spend and reservations), by router, scope and spender.', names).child(...labels),
        reset: m.localGauge('ai_gateway_budget_reset_timestamp_seconds', 'When the current budget period ends (Unix seconds), by router, scope and spender.', names).child(...labels),
      };
    }
    this.gauges.set(who, gauges);
    return gauges;
  }

  private note(who: string, level: BudgetLevel, period: Period): void {
    const known = this.known.get(who);
    if (known) {
      known.spend = level.spend;
      known.reserved = level.reserved;
      known.period = period;
    } else {
      if (this.known.size >= (this.options.maxKnown ?? MAX_KNOWN)) return;
      this.known.set(who, { spend: level.spend, reserved: level.reserved, period });
    }
    if (!this.limited) return;
    const gauges = this.gaugesOf(who);
    if (!gauges) return;
    gauges.spend.set(level.spend);
    gauges.reserved.set(level.reserved);
    gauges.remaining.set(Math.max(0, this.options.usd - level.spend - level.reserved));
    gauges.reset.set(period.end / 1000);
  }

  /** What /stats shows of one spender, as last seen (0 once its period is over). */
  spenderStats(who: string): Record<string, number | null> {
    const known = this.known.get(who);
    const current = known && known.period.stamp === this.current().stamp ? known : { spend: 0, reserved: 0 };
    return {
      spend_usd: roundUsd(current.spend),
      reserved_usd: roundUsd(current.reserved),
      remaining_usd: this.limited ? roundUsd(Math.max(0, this.options.usd - current.spend - current.reserved)) : null,
    };
  }

  /** Every spender seen, for /stats. */
  spenders(): Record<string, Record<string, number | null>> {
    const out: Record<string, Record<string, number | null>> = {};
    for (const who of this.known.keys()) out[who] = this.spenderStats(who);
    return out;
  }

  /** The period section of /stats. */
  periodStats(): Record<string, unknown> {
    const period = this.current();
    return {
      usd: this.limited ? this.options.usd : null,
      period: this.options.period,
      period_start: new Date(period.start).toISOString(),
      resets_at: new Date(period.end).toISOString(),
    };
  }
}
