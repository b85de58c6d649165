import type { FeatureModule } from './feature.js';

/**
 * Every feature the gateway knows, in no particular order (each carries its own `order`).
 * Adding a feature is one file in this folder plus one line here.
 */
export const FEATURES: readonly FeatureModule[] = [];
