import type { FeatureModule } from './feature.js';
import { budget } from './budget.js';
import { cache } from './cache.js';
import { rateLimit } from './rate_limit.js';

/**
 * Every feature the gateway knows, in no particular order (each carries its own `order`).
 * Adding a feature is one file in this folder plus one line here.
 */
export const FEATURES: readonly FeatureModule[] = [
  rateLimit,
  budget,
  cache,
];
