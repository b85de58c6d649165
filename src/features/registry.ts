import type { FeatureModule } from './feature.js';
import { budget } from './budget.js';
import { cache } from './cache.js';
import { fallback } from './fallback.js';
import { healthCheck } from './health-check.js';
import { hedging } from './hedging.js';
import { rateLimit } from './rate_limit.js';
import { requestCoalescing } from './request-coalescing.js';
import { retry } from './retry.js';
import { semanticCache } from './semantic-cache.js';
import { responseFingerprinting } from './response-fingerprinting.js';
import { semanticMemory } from './semantic-memory.js';
import { responsePrefetch } from './response-prefetch.js';
import { timeout } from './timeout.js';
import { structuredOutput } from './structured-output.js';
import { qualityGate } from './quality-gate.js';
import { contextTrimming } from './context-trimming.js';
import { tokenOptimization } from './token-optimization.js';
import { contextCompression } from './context-compression.js';
import { promptCaching } from './prompt-caching.js';
import { costAwareRouting } from './cost-aware-routing.js';
import { payloadLog } from './payload-log.js';
import { mcpTools } from './mcp-tools.js';

/**
 * Every feature the gateway knows, in no particular order (each carries its own `order`).
 * Adding a feature is one file in this folder plus one line here.
 */
export const FEATURES: readonly FeatureModule[] = [
  rateLimit,
  budget,
  cache,
  semanticCache,
  responseFingerprinting,
  semanticMemory,
  responsePrefetch,
  requestCoalescing,
  retry,
  fallback,
  timeout,
  hedging,
  healthCheck,
  structuredOutput,
  qualityGate,
  contextTrimming,
  tokenOptimization,
  contextCompression,
  promptCaching,
  costAwareRouting,
  payloadLog,
  mcpTools,
];
