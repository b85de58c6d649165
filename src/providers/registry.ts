import type { ProviderFactory } from './provider.js';
import { createHttpProvider } from './http.js';
import { createMockProvider } from './mock.js';

/** The providers the config's `provider:` may name. Library users may add their own. */
export const BUILTIN_PROVIDERS: Readonly<Record<string, ProviderFactory>> = Object.freeze({
  openai: createHttpProvider,
  openai_compatible: createHttpProvider,
  mock: createMockProvider,
});
