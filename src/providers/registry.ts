import type { ProviderModule } from './provider.js';

/**
 * Every provider the config's `provider:` may name, each imported only when an upstream
 * uses it (an HTTP provider brings undici; `mock` alone does not). Adding one is one file
 * in this folder plus one line here; the schema's `provider` enum and per-provider keys
 * come from all.ts, which loads them all for the schema build. Library users may add their
 * own factories or replace these (`providers:`).
 */
export const PROVIDER_MODULES: Readonly<Record<string, () => Promise<ProviderModule>>> = Object.freeze({
  openai: async () => (await import('./openai.js')).openai,
  openai_compatible: async () => (await import('./openai-compatible.js')).openaiCompatible,
  azure_openai: async () => (await import('./azure-openai.js')).azureOpenai,
  anthropic: async () => (await import('./anthropic.js')).anthropic,
  mock: async () => (await import('./mock.js')).mock,
});
