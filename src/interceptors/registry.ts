import type { InterceptorModule } from '../features/feature.js';

/**
 * Every interceptor the gateway knows, by name, each imported only when a config lists it
 * (see features/registry.ts; all.ts has them all, for the schema build). Adding one is a
 * file in this folder plus one line here.
 */
export const INTERCEPTOR_MODULES: Readonly<Record<string, () => Promise<InterceptorModule>>> = Object.freeze({
  pii_detector: async () => (await import('./pii-detector.js')).piiDetector,
  content_filter: async () => (await import('./content-filter.js')).contentFilter,
  prompt_guard: async () => (await import('./prompt-guard.js')).promptGuard,
  prompt_shield: async () => (await import('./prompt-shield.js')).promptShield,
  semantic_classifier: async () => (await import('./semantic-classifier.js')).semanticClassifier,
  ab_test: async () => (await import('./ab-test.js')).abTest,
  transform: async () => (await import('./transform.js')).transform,
  prompt: async () => (await import('./prompt.js')).prompt,
  custom: async () => (await import('./custom.js')).custom,
});
