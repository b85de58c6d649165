import type { Stage } from '../pipeline/stage.js';
import type { CompileDeps } from '../pipeline/compile-deps.js';

/**
 * Each feature's place in the fixed pipeline order (CONFIG.md "The pipeline"). Request-side
 * handlers run in this order; `wrapCall`s nest in it (the lowest is outermost: coalescing
 * shares a whole call, fallback moves between targets, each target's attempt is retried,
 * each try has its own timeout, and health checking watches every try).
 */
export const ORDER = Object.freeze({
  rate_limit: 200,
  budget: 300,
  cache: 400,
  request_coalescing: 450,
  fallback: 700,
  hedging: 750,
  retry: 800,
  timeout: 900,
  // Innermost, so its wrapCall sees the outcome of every single try.
  health_check: 950,
});

/** A JSON Schema fragment (draft 2020-12). */
export type SchemaFragment = Record<string, unknown>;

/**
 * A feature: one file in src/features/, one entry in the registry. Its schema fragment
 * becomes `features.<name>` in gateway.schema.json; `create` runs at compile time and
 * returns the frozen stage that the request path will call.
 */
export interface FeatureModule<C = any> {
  readonly name: string;
  /** Position in the fixed pipeline order (CONFIG.md "The pipeline"); lower runs first. */
  readonly order: number;
  /** One line for `sidegate explain`. */
  describe(config: C): string;
  readonly schema: SchemaFragment;
  create(config: C, deps: CompileDeps): Stage;
}

/** An interceptor: like a feature, but routers list them in the order they run. */
export interface InterceptorModule<C = any> {
  readonly name: string;
  describe(config: C): string;
  readonly schema: SchemaFragment;
  create(config: C, deps: CompileDeps): Stage;
}
