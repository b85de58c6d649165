/**
 * What tokens cost, in USD per 1M tokens, by model. A default table for common OpenAI and
 * Anthropic models ships with the product (list prices as published by the providers:
 * OpenAI's cached-input prices, Anthropic's cache reads at 0.1× and 5-minute cache writes
 * at 1.25× the input price; check them against your contract) and `pricing:` in the config overrides or extends it.
 * Budgets and cost-aware routing read costs from here.
 */
import { ModelLookup } from './util/model-lookup.js';

export interface ModelPrice {
  /** USD per 1M prompt (input) tokens. */
  readonly input: number;
  /** USD per 1M completion (output) tokens. */
  readonly output: number;
  /** USD per 1M input tokens read from the provider's prompt cache; default: `input` (no discount). */
  readonly cached_input?: number;
  /** USD per 1M input tokens written to the provider's prompt cache (Anthropic); default: `input`. */
  readonly cache_write?: number;
}

export const DEFAULT_PRICING: Readonly<Record<string, ModelPrice>> = Object.freeze({
  'gpt-5': { input: 1.25, output: 10, cached_input: 0.125 },
  'gpt-5-mini': { input: 0.25, output: 2, cached_input: 0.025 },
  'gpt-5-nano': { input: 0.05, output: 0.4, cached_input: 0.005 },
  'gpt-4.1': { input: 2, output: 8, cached_input: 0.5 },
  'gpt-4.1-mini': { input: 0.4, output: 1.6, cached_input: 0.1 },
  'gpt-4.1-nano': { input: 0.1, output: 0.4, cached_input: 0.025 },
  'gpt-4o': { input: 2.5, output: 10, cached_input: 1.25 },
  'gpt-4o-mini': { input: 0.15, output: 0.6, cached_input: 0.075 },
  'gpt-4-turbo': { input: 10, output: 30 },
  'gpt-3.5-turbo': { input: 0.5, output: 1.5 },
  o1: { input: 15, output: 60, cached_input: 7.5 },
  o3: { input: 2, output: 8, cached_input: 0.5 },
  'o3-mini': { input: 1.1, output: 4.4, cached_input: 0.55 },
  'o4-mini': { input: 1.1, output: 4.4, cached_input: 0.275 },
  'text-embedding-3-small': { input: 0.02, output: 0 },
  'text-embedding-3-large': { input: 0.13, output: 0 },
  'claude-opus-4-1': { input: 15, output: 75, cached_input: 1.5, cache_write: 18.75 },
  'claude-opus-4': { input: 15, output: 75, cached_input: 1.5, cache_write: 18.75 },
  'claude-sonnet-4-5': { input: 3, output: 15, cached_input: 0.3, cache_write: 3.75 },
  'claude-sonnet-4': { input: 3, output: 15, cached_input: 0.3, cache_write: 3.75 },
  'claude-3-7-sonnet': { input: 3, output: 15, cached_input: 0.3, cache_write: 3.75 },
  'claude-haiku-4-5': { input: 1, output: 5, cached_input: 0.1, cache_write: 1.25 },
  'claude-3-5-haiku': { input: 0.8, output: 4, cached_input: 0.08, cache_write: 1 },
});

/**
 * A compiled price lookup (see ModelLookup: exact name, else the longest `prefix-`).
 * Unknown models have no price.
 */
export class Pricing {
  private readonly table: ModelLookup<ModelPrice>;

  constructor(overrides: Readonly<Record<string, ModelPrice>> = {}) {
    this.table = new ModelLookup({ ...DEFAULT_PRICING, ...overrides });
  }

  priceOf(model: string): ModelPrice | null {
    return this.table.get(model);
  }

  /** The table entry a model is priced by: its own name, the entry it starts with, or null (bounded metric labels). */
  entryOf(model: string): string | null {
    return this.table.keyOf(model);
  }

  /**
   * USD for a number of prompt and completion tokens, or null for a model with no price.
   * Of the prompt tokens, `cachedTokens` were read from the provider's prompt cache and
   * `cacheWriteTokens` written to it: each is priced at its own rate.
   */
  cost(model: string, promptTokens: number, completionTokens: number, cachedTokens = 0, cacheWriteTokens = 0): number | null {
    const price = this.priceOf(model);
    if (!price) return null;
    const prompt = Math.max(0, promptTokens);
    const cached = Math.min(prompt, Math.max(0, cachedTokens));
    const written = Math.min(prompt - cached, Math.max(0, cacheWriteTokens));
    const fresh = prompt - cached - written;
    const usd = fresh * price.input + cached * (price.cached_input ?? price.input) + written * (price.cache_write ?? price.input);
    return (usd + Math.max(0, completionTokens) * price.output) / 1_000_000;
  }
}
