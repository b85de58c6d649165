import type { Logger } from 'pino';
import type { Metrics } from '../observability/metrics.js';

/** What a feature or interceptor may use when it is built (at compile time only). */
export interface CompileDeps {
  readonly routerName: string;
  readonly logger: Logger;
  readonly metrics: Metrics;
}
