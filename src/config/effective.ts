/**
 * What a router runs with once `defaults:` is applied: a router's own feature replaces the
 * same feature under `defaults.features` (whole, not key by key), and its own
 * `interceptors` list replaces `defaults.interceptors`. The compiler builds routers from
 * these, and every tool that shows a router (explain, diff, route, warnings) reads them.
 */
import type { FeaturesConfig, GatewayConfig, InterceptorItem, RouterConfig } from './types.js';

export function effectiveFeatures(config: GatewayConfig, router: RouterConfig): FeaturesConfig {
  return { ...config.defaults?.features, ...router.features };
}

export function effectiveInterceptors(config: GatewayConfig, router: RouterConfig): readonly InterceptorItem[] {
  return router.interceptors ?? config.defaults?.interceptors ?? [];
}

/** Where the effective feature `name` of a router is written: its own features, else defaults. */
export function featureSource(config: GatewayConfig, routerName: string, name: string): (string | number)[] | null {
  if (config.routers[routerName]?.features?.[name] !== undefined) return ['routers', routerName, 'features', name];
  if (config.defaults?.features?.[name] !== undefined) return ['defaults', 'features', name];
  return null;
}
