import type { Stage } from '../pipeline/stage.js';
import type { CompileDeps } from '../pipeline/compile-deps.js';
import { STAGE_ORDER } from '../pipeline/order.js';

/** Each feature's place on the pipeline's ordered line (STAGE_ORDER, src/pipeline/order.ts). */
export const ORDER = STAGE_ORDER;

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
