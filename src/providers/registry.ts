import type { ProviderFactory, ProviderModule } from './provider.js';
import { anthropic } from './anthropic.js';
import { azureOpenai } from './azure-openai.js';
import { mock } from './mock.js';
import { openai } from './openai.js';
import { openaiCompatible } from './openai-compatible.js';

/**
 * Every provider the config's `provider:` may name. Adding one is one file in this folder
 * plus one line here; the schema's `provider` enum and per-provider keys come from this list.
 */
export const PROVIDERS: readonly ProviderModule[] = [openai, openaiCompatible, azureOpenai, anthropic, mock];

/** The built-in factories by name. Library users may add their own or replace these (`providers:`). */
export const BUILTIN_PROVIDERS: Readonly<Record<string, ProviderFactory>> = Object.freeze(
  Object.fromEntries(PROVIDERS.map((p) => [p.name, p.create])),
);
