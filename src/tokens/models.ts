import { ModelLookup } from '../util/model-lookup.js';

/** The BPE encodings the token counter knows (gpt-tokenizer ships them). */
export type EncodingName = 'o200k_base' | 'cl100k_base';

export interface ModelInfo {
  /** The encoding that counts this model's tokens. */
  readonly encoding: EncodingName;
  /** The context window in tokens: input and output together. */
  readonly contextWindow: number;
  /** The most tokens the model writes in one answer. */
  readonly maxOutput: number;
}

/**
 * Context windows and output limits of common models, as their providers publish them.
 * OpenAI's current families count with `o200k_base`, older ones with `cl100k_base`.
 * Anthropic publishes no tokenizer; Claude models are counted with `cl100k_base`, which
 * comes within a few percent on English text (an estimate: Anthropic's own count is the
 * `usage` of the answer, or `/v1/messages/count_tokens`).
 */
const MODELS: Readonly<Record<string, ModelInfo>> = Object.freeze({
  'gpt-5': { encoding: 'o200k_base', contextWindow: 400_000, maxOutput: 128_000 },
  'gpt-4.1': { encoding: 'o200k_base', contextWindow: 1_047_576, maxOutput: 32_768 },
  'gpt-4o': { encoding: 'o200k_base', contextWindow: 128_000, maxOutput: 16_384 },
  'chatgpt-4o': { encoding: 'o200k_base', contextWindow: 128_000, maxOutput: 16_384 },
  o1: { encoding: 'o200k_base', contextWindow: 200_000, maxOutput: 100_000 },
  o3: { encoding: 'o200k_base', contextWindow: 200_000, maxOutput: 100_000 },
  'o4-mini': { encoding: 'o200k_base', contextWindow: 200_000, maxOutput: 100_000 },
  'gpt-4-turbo': { encoding: 'cl100k_base', contextWindow: 128_000, maxOutput: 4_096 },
  'gpt-4': { encoding: 'cl100k_base', contextWindow: 8_192, maxOutput: 8_192 },
  'gpt-3.5-turbo': { encoding: 'cl100k_base', contextWindow: 16_385, maxOutput: 4_096 },
  'text-embedding-3-small': { encoding: 'cl100k_base', contextWindow: 8_191, maxOutput: 0 },
  'text-embedding-3-large': { encoding: 'cl100k_base', contextWindow: 8_191, maxOutput: 0 },
  'claude-opus-4': { encoding: 'cl100k_base', contextWindow: 200_000, maxOutput: 32_000 },
  'claude-opus-4-1': { encoding: 'cl100k_base', contextWindow: 200_000, maxOutput: 32_000 },
  'claude-sonnet-4': { encoding: 'cl100k_base', contextWindow: 200_000, maxOutput: 64_000 },
  'claude-sonnet-4-5': { encoding: 'cl100k_base', contextWindow: 200_000, maxOutput: 64_000 },
  'claude-3-7-sonnet': { encoding: 'cl100k_base', contextWindow: 200_000, maxOutput: 64_000 },
  'claude-haiku-4-5': { encoding: 'cl100k_base', contextWindow: 200_000, maxOutput: 64_000 },
  'claude-3-5-haiku': { encoding: 'cl100k_base', contextWindow: 200_000, maxOutput: 8_192 },
  'claude-3-5-sonnet': { encoding: 'cl100k_base', contextWindow: 200_000, maxOutput: 8_192 },
});

/** What a model the table does not know is assumed to be. */
export const UNKNOWN_MODEL: ModelInfo = Object.freeze({ encoding: 'o200k_base', contextWindow: 128_000, maxOutput: 4_096 });

const LOOKUP = new ModelLookup(MODELS);

/** A model's encoding, context window and output limit (UNKNOWN_MODEL's for one the table lacks). */
export function modelInfo(model: string | undefined): ModelInfo {
  return (model === undefined ? null : LOOKUP.get(model)) ?? UNKNOWN_MODEL;
}

/** True when the table knows the model (its figures are published ones, not the fallback). */
export function isKnownModel(model: string): boolean {
  return LOOKUP.get(model) !== null;
}
