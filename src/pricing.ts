/**
 * What tokens cost, in USD per 1M tokens, by model. A default table for common OpenAI and
 * Anthropic models ships with the product (list prices as published by the providers;
 * check them against your contract) and `pricing:` in the config overrides or extends it.
 * Budgets and cost-aware routing read costs from here.
 */
import { ModelLookup } from './util/model-lookup.js';

export interface ModelPrice {
  /** USD per 1M prompt (input) tokens. */
  readonly input: number;
  /** USD per 1M completion (output) tokens. */
  readonly output: number;
}

export const DEFAULT_PRICING: Readonly<Record<string, ModelPrice>> = Object.freeze({
  'gpt-5': { input: 1.25, output: 10 },
  'gpt-5-mini': { input: 0.25, output: 2 },
  'gpt-5-nano': { input: 0.05, output: 0.4 },
  'gpt-4.1': { input: 2, output: 8 },
  'gpt-4.1-mini': { input: 0.4, output: 1.6 },
  'gpt-4.1-nano': { input: 0.1, output: 0.4 },
  'gpt-4o': { input: 2.5, output: 10 },
  'gpt-4o-mini': { input: 0.15, output: 0.6 },
  'gpt-4-turbo': { input: 10, output: 30 },
  'gpt-3.5-turbo': { input: 0.5, output: 1.5 },
  o1: { input: 15, output: 60 },
  o3: { input: 2, output: 8 },
  'o3-mini': { input: 1.1, output: 4.4 },
  'o4-mini': { input: 1.1, output: 4.4 },
  'text-embedding-3-small': { input: 0.02, output: 0 },
  'text-embedding-3-large': { input: 0.13, output: 0 },
  'claude-opus-4-1': { input: 15, output: 75 },
  'claude-opus-4': { input: 15, output: 75 },
  'claude-sonnet-4-5': { input: 3, output: 15 },
  'claude-sonnet-4': { input: 3, output: 15 },
  'claude-3-7-sonnet': { input: 3, output: 15 },
  'claude-haiku-4-5': { input: 1, output: 5 },
  'claude-3-5-haiku': { input: 0.8, output: 4 },
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

  /** USD for a number of prompt and completion tokens, or null for a model with no price. */
  cost(model: string, promptTokens: number, completionTokens: number): number | null {
    const price = this.priceOf(model);
    if (!price) return null;
    return (Math.max(0, promptTokens) * price.input + Math.max(0, completionTokens) * price.output) / 1_000_000;
  }
}
