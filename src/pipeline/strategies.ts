import type { Pricing } from '../pricing.js';
import type { CompiledTarget } from './compiled.js';
import type { RequestContext } from './context.js';

export type StrategyName = 'failover' | 'round_robin' | 'weighted' | 'percentage' | 'random' | 'latency_based' | 'cost_aware';

/**
 * How a router orders its targets for one request. The first target is the one tried;
 * fallback and hedging walk the rest in this order. Lists are built at compile time
 * where the order does not depend on the request, so picking allocates nothing.
 */
export interface Strategy {
  pick(ctx: RequestContext | null): readonly CompiledTarget[];
  /** Told how long each try took to get response headers, and whether it failed. */
  observe?(target: CompiledTarget, ms: number, failed: boolean): void;
  /** This strategy's state for /stats. */
  stats?(): Record<string, unknown>;
}

/** rotations[i]: target i first, then the others in config order. */
function rotations(targets: readonly CompiledTarget[]): readonly (readonly CompiledTarget[])[] {
  return targets.map((first) => Object.freeze([first, ...targets.filter((t) => t !== first)]));
}

function roundRobin(targets: readonly CompiledTarget[]): Strategy {
  const lists = rotations(targets);
  let next = 0;
  return {
    pick() {
      const list = lists[next]!;
      next = (next + 1) % lists.length;
      return list;
    },
  };
}

/**
 * Smooth weighted round robin (as nginx does it): deterministic, and spreads a target's
 * turns evenly instead of in bursts. Weight 0 is never first, but still a fallback.
 */
function weighted(targets: readonly CompiledTarget[]): Strategy {
  const lists = rotations(targets);
  const weights = targets.map((t) => t.weight);
  const total = weights.reduce((a, b) => a + b, 0);
  if (total === 0) return roundRobin(targets);
  const current = weights.map(() => 0);
  return {
    pick() {
      let best = 0;
      for (let i = 0; i < current.length; i++) {
        current[i]! += weights[i]!;
        if (current[i]! > current[best]!) best = i;
      }
      current[best]! -= total;
      return lists[best]!;
    },
  };
}

/** A random draw proportional to weight (`percentage`: weights that add up to 100). */
function proportional(targets: readonly CompiledTarget[]): Strategy {
  const lists = rotations(targets);
  const cumulative: number[] = [];
  let sum = 0;
  for (const t of targets) cumulative.push((sum += t.weight));
  return {
    pick() {
      const r = Math.random() * sum;
      let i = 0;
      while (i < cumulative.length - 1 && r >= cumulative[i]!) i++;
      return lists[i]!;
    },
  };
}

function random(targets: readonly CompiledTarget[]): Strategy {
  const lists = rotations(targets);
  return { pick: () => lists[Math.floor(Math.random() * lists.length)]! };
}

/** Weight of the newest sample in the moving average of time to first byte. */
const EWMA_ALPHA = 0.3;
/** Share of requests sent to a target other than the fastest, so a recovered one is noticed. */
export const EXPLORE_RATE = 0.1;
/** A failed try counts as this slow (ms) at least, so failing targets sink. */
const FAILURE_PENALTY_MS = 5_000;

/**
 * Fastest first, by a moving average of each target's time to response headers. Targets
 * never measured go first (so every target gets measured), and a share of requests
 * explores another target so that one that recovered gets traffic back.
 */
function latencyBased(targets: readonly CompiledTarget[]): Strategy {
  const ewma = targets.map(() => -1);
  const indexOf = new Map(targets.map((t, i) => [t, i]));
  const lists = rotations(targets);
  return {
    pick() {
      let best = 0;
      for (let i = 0; i < ewma.length; i++) {
        if (ewma[i]! < 0) return lists[i]!;
        if (ewma[i]! < ewma[best]!) best = i;
      }
      if (targets.length > 1 && Math.random() < EXPLORE_RATE) {
        const other = Math.floor(Math.random() * (targets.length - 1));
        return lists[other >= best ? other + 1 : other]!;
      }
      return lists[best]!;
    },
    observe(target, ms, failed) {
      const i = indexOf.get(target);
      if (i === undefined) return;
      const sample = failed ? Math.max(ms, FAILURE_PENALTY_MS) : ms;
      ewma[i] = ewma[i]! < 0 ? sample : EWMA_ALPHA * sample + (1 - EWMA_ALPHA) * ewma[i]!;
    },
    stats() {
      return { ttfb_ewma_ms: Object.fromEntries(targets.map((t, i) => [t.upstream.name, ewma[i]! < 0 ? null : Math.round(ewma[i]! * 100) / 100])) };
    },
  };
}

/**
 * Cheapest first, by the `pricing` table (input + output USD per 1M tokens) of the model
 * each target would be sent: its own `model`, or the caller's. Unpriced targets go last.
 */
function costAware(targets: readonly CompiledTarget[], pricing: Pricing): Strategy {
  const priceOf = (t: CompiledTarget, model: string | undefined): number => {
    const name = t.model ?? model;
    const price = name ? pricing.priceOf(name) : null;
    return price ? price.input + price.output : Number.POSITIVE_INFINITY;
  };
  const rank = (model: string | undefined): readonly CompiledTarget[] =>
    Object.freeze(
      targets
        .map((t, i) => ({ t, i, p: priceOf(t, model) }))
        .sort((a, b) => a.p - b.p || a.i - b.i)
        .map((x) => x.t),
    );
  if (targets.every((t) => t.model !== null)) {
    const fixed = rank(undefined);
    return { pick: () => fixed };
  }
  return { pick: (ctx) => rank(ctx?.requestedModel) };
}

export function createStrategy(name: StrategyName, targets: readonly CompiledTarget[], pricing: Pricing): Strategy {
  switch (name) {
    case 'failover':
      return { pick: () => targets };
    case 'round_robin':
      return roundRobin(targets);
    case 'weighted':
      return weighted(targets);
    case 'percentage':
      return proportional(targets);
    case 'random':
      return random(targets);
    case 'latency_based':
      return latencyBased(targets);
    case 'cost_aware':
      return costAware(targets, pricing);
  }
}

/** One line per strategy for `sidegate explain`. */
export const STRATEGY_DESCRIPTIONS: Readonly<Record<StrategyName, string>> = {
  failover: 'targets in config order; the first is tried first',
  round_robin: 'each request starts at the next target in turn',
  weighted: 'smooth weighted round robin by `weight` (deterministic)',
  percentage: 'a random split by `weight` (the weights add up to 100)',
  random: 'a uniformly random first target',
  latency_based: `fastest first by a moving average of time to first byte; ${EXPLORE_RATE * 100}% of requests explore another target`,
  cost_aware: 'cheapest first by the pricing table (input + output per 1M tokens); unpriced targets last',
};
