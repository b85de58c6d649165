import type { InterceptorModule } from '../features/feature.js';

/** Every interceptor the gateway knows. Adding one is a file in this folder plus one line here. */
export const INTERCEPTORS: readonly InterceptorModule[] = [];
