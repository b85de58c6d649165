import { isObject, type Json } from './json.js';

function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.floor(value) : 0;
}

/**
 * Anthropic's usage as OpenAI's: `prompt_tokens` counts every input token (Anthropic's
 * `input_tokens` leave cached ones out), cache reads are `prompt_tokens_details.cached_tokens`,
 * and cache writes, which OpenAI has no field for, `prompt_tokens_details.cache_creation_tokens`.
 */
export function openaiUsageOf(usage: unknown): Json {
  const u = isObject(usage) ? usage : {};
  const read = count(u.cache_read_input_tokens);
  const write = count(u.cache_creation_input_tokens);
  const prompt = count(u.input_tokens) + read + write;
  const completion = count(u.output_tokens);
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: read, cache_creation_tokens: write },
  };
}

/** OpenAI's usage as Anthropic's: cached tokens leave `input_tokens` for `cache_read_input_tokens`. */
export function anthropicUsageOf(usage: unknown): Json {
  const u = isObject(usage) ? usage : {};
  const details = isObject(u.prompt_tokens_details) ? u.prompt_tokens_details : {};
  const read = count(details.cached_tokens);
  const write = count(details.cache_creation_tokens);
  return {
    input_tokens: Math.max(0, count(u.prompt_tokens) - read - write),
    output_tokens: count(u.completion_tokens),
    cache_creation_input_tokens: write,
    cache_read_input_tokens: read,
  };
}
