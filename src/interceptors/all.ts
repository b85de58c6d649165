/**
 * Every interceptor's module, loaded, for the schema build and tests (the gateway imports
 * an interceptor only when a config lists it: registry.ts).
 */
import type { InterceptorModule } from '../features/feature.js';
import { INTERCEPTOR_MODULES } from './registry.js';

export const INTERCEPTORS: readonly InterceptorModule[] = await Promise.all(Object.values(INTERCEPTOR_MODULES).map((load) => load()));
