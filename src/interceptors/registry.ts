import type { InterceptorModule } from '../features/feature.js';
import { piiDetector } from './pii-detector.js';

/** Every interceptor the gateway knows. Adding one is a file in this folder plus one line here. */
export const INTERCEPTORS: readonly InterceptorModule[] = [
  piiDetector,
];
