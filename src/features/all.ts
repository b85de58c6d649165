/**
 * Every feature's module, loaded: what the schema build (config/schema.ts) assembles the
 * `features` fragments from, and what tests read. The gateway itself imports a feature
 * only when a config uses it (registry.ts).
 */
import type { FeatureModule } from './feature.js';
import { FEATURE_MODULES } from './registry.js';

export const FEATURES: readonly FeatureModule[] = await Promise.all(Object.values(FEATURE_MODULES).map((load) => load()));
