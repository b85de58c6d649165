import type { Logger } from 'pino';
import type { Metrics } from '../observability/metrics.js';
import type { CompiledTarget } from './compiled.js';

/** What a feature or interceptor may use when it is built (at compile time only). */
export interface CompileDeps {
  readonly routerName: string;
  /** The router's targets, in config order. */
  readonly targets: readonly CompiledTarget[];
  readonly logger: Logger;
  readonly metrics: Metrics;
}
