/**
 * Warnings: configs that are valid but almost surely wrong. `sidegate validate` prints
 * them (exit 0); `--strict` makes them errors. Each points at the YAML that causes it.
 * - a target no request can reach (the strategy never puts it first and nothing moves on);
 * - a target whose model has no price while `budget` or `cost_aware` needs one;
 * - `retry.on` listing a status that answers the same on every try;
 * - a `cache` or `request_coalescing` keyed without `authorization` on a router that
 *   forwards callers' own credentials (`auth: passthrough`): one caller's answer served to another;
 * - an admin listener on a non-loopback address without `server.admin_token`.
 */
import type { ConfigIssue, LoadedConfig } from '../config/load.js';
import type { GatewayConfig, RouterConfig } from '../config/types.js';
import type { Locator, PathSegment } from '../config/positions.js';
import { CONFIG_DEFAULTS } from '../config/defaults.js';
import { effectiveFeatures, featureSource } from '../config/effective.js';
import { Pricing } from '../pricing.js';
import { parseHostPort } from '../server/address.js';
import { featureDefault } from './schema-defaults.js';

type Obj = Record<string, unknown>;

/**
 * Statuses that say the request itself was refused: the same request gets the same answer.
 * 408 (timeout), 409 (conflict), 425 (too early) and 429 (rate limited) are transient.
 */
function answersTheSame(status: number): boolean {
  return (status >= 400 && status < 500 && ![408, 409, 425, 429].includes(status)) || status === 501 || status === 505;
}

/** Features that move a request past its first target. */
const MOVES_ON = ['fallback', 'hedging', 'health_check'];

function isLoopback(host: string | undefined): boolean {
  if (host === undefined) return false; // `:9090` is every interface
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function unreachableTargets(name: string, router: RouterConfig, features: Obj, issue: Issue): void {
  if (router.targets.length < 2 || MOVES_ON.some((f) => features[f] !== undefined)) return;
  const strategy = router.strategy ?? CONFIG_DEFAULTS.strategy;
  const why = `no request reaches this target: strategy ${strategy}`;
  const rest = 'and the router has no fallback, hedging or health_check to move on to it';
  router.targets.forEach((target, i) => {
    const path = ['routers', name, 'targets', i];
    if (strategy === 'failover' && i > 0) issue(path, `${why} always tries targets[0] first, ${rest}`);
    if ((strategy === 'weighted' || strategy === 'percentage') && target.weight === 0) issue(path, `${why} never picks a target of weight 0 first, ${rest}`);
  });
}

function unpricedTargets(name: string, router: RouterConfig, features: Obj, pricing: Pricing, issue: Issue): void {
  const needs = [
    ...(features.budget !== undefined ? ['budget cannot count its cost'] : []),
    ...(router.strategy === 'cost_aware' ? ['cost_aware ranks it last'] : []),
  ];
  if (needs.length === 0) return;
  router.targets.forEach((target, i) => {
    if (target.model === undefined || pricing.priceOf(target.model) !== null) return;
    issue(['routers', name, 'targets', i, 'model'], `model ${JSON.stringify(target.model)} has no price in the pricing table, so ${needs.join(' and ')}; add it under pricing:`);
  });
}

function unsafeRetries(config: GatewayConfig, issue: Issue): void {
  const places: [PathSegment[], unknown][] = [[['defaults', 'features', 'retry'], config.defaults?.features?.retry]];
  for (const [name, router] of Object.entries(config.routers)) places.push([['routers', name, 'features', 'retry'], router.features?.retry]);
  for (const [path, retry] of places) {
    const on = (retry as { on?: unknown[] } | undefined)?.on;
    if (!Array.isArray(on)) continue;
    on.forEach((item, i) => {
      if (typeof item !== 'number' || !answersTheSame(item)) return;
      issue([...path, 'on', i], `retrying ${item} does not help: the upstream refused the request itself and answers a retry the same way (only 408, 409, 425, 429 and 5xx are transient)`);
    });
  }
}

function sharedAnswers(config: GatewayConfig, name: string, router: RouterConfig, features: Obj, issue: Issue): void {
  const passthrough = router.targets.map((t) => t.upstream).filter((u) => (config.upstreams[u]?.auth ?? CONFIG_DEFAULTS.auth) === 'passthrough');
  if (passthrough.length === 0) return;
  for (const feature of ['cache', 'request_coalescing']) {
    if (features[feature] === undefined) continue;
    const headers = ((features[feature] as Obj).key_headers ?? featureDefault(feature, 'key_headers') ?? []) as string[];
    if (headers.some((h) => h.toLowerCase() === 'authorization')) continue;
    const source = featureSource(config, name, feature)!;
    const written = (features[feature] as Obj).key_headers === undefined ? source : [...source, 'key_headers'];
    const shared = feature === 'cache' ? 'a cached answer to one caller is served to another' : 'one caller gets the answer to another caller\'s request';
    issue(written, `${feature} of router "${name}" is not keyed by authorization while upstream "${[...new Set(passthrough)].join('", "')}" gets the caller's own credential (auth: passthrough): ${shared}; add authorization to key_headers`);
  }
}

function openAdmin(config: GatewayConfig, issue: Issue): void {
  const server = (config.server ?? {}) as Obj;
  const admin = server.admin ?? CONFIG_DEFAULTS.admin;
  if (typeof admin !== 'string' || typeof server.admin_token === 'string') return;
  let host: string | undefined;
  try {
    host = parseHostPort(admin).host;
  } catch {
    return;
  }
  if (isLoopback(host)) return;
  issue(['server', 'admin'], `the admin listener (/config, /stats, /metrics, DELETE /cache) listens on ${admin}, beyond this host, with no token: keep it on 127.0.0.1, or restrict who reaches that port`);
}

type Issue = (path: PathSegment[], message: string) => void;

/** Every warning for a loaded (valid) config, in file order. */
export function configWarnings(loaded: LoadedConfig, locator: Locator): ConfigIssue[] {
  const config = loaded.config;
  const out: ConfigIssue[] = [];
  const issue: Issue = (path, message) => out.push(locator.issue(path, message));
  const pricing = new Pricing(config.pricing);
  openAdmin(config, issue);
  unsafeRetries(config, issue);
  for (const [name, router] of Object.entries(config.routers)) {
    const features = effectiveFeatures(config, router) as Obj;
    unreachableTargets(name, router, features, issue);
    unpricedTargets(name, router, features, pricing, issue);
    sharedAnswers(config, name, router, features, issue);
  }
  return out.sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity) || (a.column ?? Infinity) - (b.column ?? Infinity));
}
