/**
 * Every provider's module, loaded, for the schema build (the `provider` enum, the
 * per-provider keys) and tests; the gateway imports a provider only when an upstream
 * uses it (registry.ts).
 */
import type { ProviderModule } from './provider.js';
import { PROVIDER_MODULES } from './registry.js';

export const PROVIDERS: readonly ProviderModule[] = await Promise.all(Object.values(PROVIDER_MODULES).map((load) => load()));
