import type { FeatureModule } from './feature.js';

/**
 * Every feature the gateway knows, by the name a config gives it, each imported only when
 * a config uses it: compile imports the features it builds, so a feature that is not
 * configured costs nothing, not even its module (`sidegate validate` loads none). The
 * schema build and tests read them all from all.ts. Adding a feature is one file in this
 * folder plus one line here.
 */
export const FEATURE_MODULES: Readonly<Record<string, () => Promise<FeatureModule>>> = Object.freeze({
  rate_limit: async () => (await import('./rate_limit.js')).rateLimit,
  budget: async () => (await import('./budget.js')).budget,
  cache: async () => (await import('./cache.js')).cache,
  semantic_cache: async () => (await import('./semantic-cache.js')).semanticCache,
  response_fingerprinting: async () => (await import('./response-fingerprinting.js')).responseFingerprinting,
  semantic_memory: async () => (await import('./semantic-memory.js')).semanticMemory,
  response_prefetch: async () => (await import('./response-prefetch.js')).responsePrefetch,
  request_coalescing: async () => (await import('./request-coalescing.js')).requestCoalescing,
  retry: async () => (await import('./retry.js')).retry,
  fallback: async () => (await import('./fallback.js')).fallback,
  timeout: async () => (await import('./timeout.js')).timeout,
  hedging: async () => (await import('./hedging.js')).hedging,
  health_check: async () => (await import('./health-check.js')).healthCheck,
  structured_output: async () => (await import('./structured-output.js')).structuredOutput,
  quality_gate: async () => (await import('./quality-gate.js')).qualityGate,
  context_trimming: async () => (await import('./context-trimming.js')).contextTrimming,
  token_optimization: async () => (await import('./token-optimization.js')).tokenOptimization,
  context_compression: async () => (await import('./context-compression.js')).contextCompression,
  prompt_caching: async () => (await import('./prompt-caching.js')).promptCaching,
  cost_aware_routing: async () => (await import('./cost-aware-routing.js')).costAwareRouting,
  payload_log: async () => (await import('./payload-log.js')).payloadLog,
  mcp_tools: async () => (await import('./mcp-tools.js')).mcpTools,
});
