/**
 * What every interceptor shares: the `on` and `action` keys of its schema, its metric
 * (`ai_gateway_interceptor_actions_total`), its access-line entries and the
 * `content_blocked` error it blocks with.
 */
import { GatewayError } from '../errors.js';
import type { CompileDeps } from '../pipeline/compile-deps.js';
import type { RequestContext } from '../pipeline/context.js';
import type { CounterChild } from '../observability/local-metrics.js';
import type { SchemaFragment } from '../features/feature.js';
import type { CompiledTarget } from '../pipeline/compiled.js';

export type Side = 'request' | 'response' | 'both';
export type Action = 'block' | 'redact' | 'log';

export const onSchema = (fallback: Side, what: string): SchemaFragment => ({
  description: `Where it looks: \`request\` (${what} before it goes upstream), \`response\` (the answer, streams included), or \`both\`. Default \`${fallback}\`.`,
  enum: ['request', 'response', 'both'],
  default: fallback,
});

export const actionSchema = (actions: readonly string[], fallback: string, extra = ''): SchemaFragment => ({
  description:
    'What happens on a finding: `block` answers 400 `content_blocked` in the caller\'s API format (or ends a started stream with an ' +
    'error event), naming the interceptor and the category, never the content; `redact` replaces what was found; `log` only counts it ' +
    `(metric and access line).${extra} Default \`${fallback}\`.`,
  enum: [...actions],
  default: fallback,
});

export const streamWindowSchema = (fallback: number): SchemaFragment => ({
  description:
    `Streamed answers: how many characters are held back so a value split over two chunks is still found whole (16 to 4096). ` +
    `A larger window finds longer values; the client sees text that much later. Default \`${fallback}\`.`,
  type: 'integer',
  minimum: 16,
  maximum: 4096,
  default: fallback,
});

export const looksAtRequest = (side: Side): boolean => side !== 'response';
export const looksAtResponse = (side: Side): boolean => side !== 'request';

/** One entry of the access line's `interceptors` list. */
interface Finding {
  interceptor: string;
  action: string;
  category: string;
  on: 'request' | 'response';
  count: number;
}

/** The most entries one request's access line lists (each is one interceptor, category and side). */
const MAX_FINDINGS = 32;

/**
 * An interceptor's bookkeeping, built at compile time: one metric child per action and
 * category it can report (so labels stay bounded by the config), and the access-line list.
 */
export class Findings {
  private readonly children = new Map<string, CounterChild>();

  constructor(
    deps: CompileDeps,
    readonly interceptor: string,
    actions: readonly string[],
    categories: readonly string[],
  ) {
    const counter = deps.metrics.localCounter(
      'ai_gateway_interceptor_actions_total',
      'What interceptors did, by router, interceptor, action (block, redact, log, pseudonymize, route, tag, assign…) and category.',
      ['router', 'interceptor', 'action', 'category'],
    );
    for (const action of actions) for (const category of categories) {
      this.children.set(`${action}\0${category}`, counter.child(deps.routerName, interceptor, action, category));
    }
  }

  /** Counts `count` findings of `category` handled by `action` on one side, in the metric and the access line. */
  record(ctx: RequestContext, action: string, category: string, on: 'request' | 'response', count = 1): void {
    this.children.get(`${action}\0${category}`)?.inc(count);
    const fields = (ctx.notes ??= {});
    const list = ((fields.interceptors as Finding[] | undefined) ??= []);
    const same = list.find((f) => f.interceptor === this.interceptor && f.category === category && f.on === on && f.action === action);
    if (same) same.count += count;
    else if (list.length < MAX_FINDINGS) list.push({ interceptor: this.interceptor, action, category, on, count });
  }

  /** The error a block answers with: it names the interceptor and the category, never the content. */
  blocked(category: string, on: 'request' | 'response'): GatewayError {
    const what = on === 'request' ? 'request' : 'answer';
    return new GatewayError('content_blocked', `The ${what} was blocked by the ${this.interceptor} interceptor (category: ${category}).`);
  }
}

/** The candidates with the targets of `upstream` first; the others stay behind them, in strategy order, for fallback. */
export function upstreamFirst(candidates: readonly CompiledTarget[], upstream: string | undefined): readonly CompiledTarget[] {
  if (upstream === undefined || candidates[0]?.upstream.name === upstream) return candidates;
  const first = candidates.filter((t) => t.upstream.name === upstream);
  return first.length === 0 ? candidates : [...first, ...candidates.filter((t) => t.upstream.name !== upstream)];
}
