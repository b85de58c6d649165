/** Loose JSON shapes the translators read and build (validated field by field as they go). */
export type Json = Record<string, any>;

export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The Unix time in seconds, as OpenAI's `created` carries it. */
export function unixSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** Parses a tool call's JSON arguments; a model that sent broken JSON gets it back as a string field. */
export function parseArguments(text: unknown): Json {
  if (typeof text !== 'string' || text.trim() === '') return {};
  try {
    const value = JSON.parse(text);
    return isObject(value) ? value : { value };
  } catch {
    return { _raw_arguments: text };
  }
}
