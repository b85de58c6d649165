/**
 * Checks the schema cannot express: names that must refer to something else in the file.
 * - every `routers.*.targets[].upstream` names an entry of `upstreams`;
 * - `default_router` names a router;
 * - an alias belongs to one router only, and is never the name of another router;
 * - a `percentage` router gives every target a weight, and the weights add up to 100;
 * - an `embedder: { upstream }` of a feature or interceptor names an upstream;
 * - a router with `response_prefetch` has a cache to warm (`cache` or `semantic_cache`);
 * - `features.context_compression` names an existing `router` and `prompt`;
 * - `state.redis` names exactly one of `url`, `nodes`, `sentinels`;
 * - `features.mcp_tools.servers` name entries of `mcp_servers`;
 * - interceptors name what exists: a `prompt` a template of `prompts` whose every variable is
 *   declared, `ab_test` variants and `semantic_classifier` classes a router of the file and a
 *   target upstream of their own router.
 * Runs on whatever the file holds (also when the schema found errors), so it only looks
 * at values of the expected types.
 */
import type { ConfigIssue } from './load.js';
import { toPointer, type DataPath } from './positions.js';
import { REDACTED } from './redact.js';
import { closest } from './suggest.js';
import type { CheckContext } from './validate.js';
import { templateVariables } from '../util/template.js';

type Obj = Record<string, unknown>;

const isObject = (value: unknown): value is Obj => typeof value === 'object' && value !== null && !Array.isArray(value);
const entries = (value: unknown): [string, unknown][] => (isObject(value) ? Object.entries(value) : []);

/** Issues for names that refer to nothing; values whose interpolation failed are skipped (already reported). */
export function checkReferences(config: unknown, { locator, fromEnv, failed }: CheckContext): ConfigIssue[] {
  if (!isObject(config)) return [];
  const issues: ConfigIssue[] = [];
  const show = (value: string, path: DataPath): string => JSON.stringify(fromEnv.has(toPointer(path)) ? REDACTED : value);
  const unknown = (path: DataPath, what: string, value: string, names: string[]): void => {
    if (failed.has(toPointer(path))) return;
    const suggestion = closest(value, names);
    const list = suggestion || names.length === 0 ? '' : `; ${what}s are: ${names.join(', ')}`;
    issues.push(locator.issue(path, `unknown ${what} ${show(value, path)}${list}`, { suggestion }));
  };

  const upstreams = isObject(config.upstreams) ? Object.keys(config.upstreams) : [];
  const upstreamSet = new Set(upstreams); // sets, not lists: a config may hold 10 000 routers
  const routers = entries(config.routers);
  const routerNames = routers.map(([name]) => name);
  const routerSet = new Set(routerNames);

  for (const [name, router] of routers) {
    if (!isObject(router) || !Array.isArray(router.targets)) continue;
    router.targets.forEach((target, i) => {
      if (!isObject(target) || typeof target.upstream !== 'string' || upstreamSet.has(target.upstream)) return;
      unknown(['routers', name, 'targets', i, 'upstream'], 'upstream', target.upstream, upstreams);
    });
  }

  for (const [name, router] of routers) {
    if (!isObject(router) || router.strategy !== 'percentage' || !Array.isArray(router.targets)) continue;
    const weights = router.targets.map((t) => (isObject(t) && typeof t.weight === 'number' ? t.weight : null));
    const missing = weights.indexOf(null);
    if (missing >= 0) {
      issues.push(locator.issue(['routers', name, 'targets', missing], 'strategy percentage needs a `weight` (a percent) on every target'));
    } else {
      const sum = (weights as number[]).reduce((a, b) => a + b, 0);
      if (sum !== 100) issues.push(locator.issue(['routers', name, 'strategy'], `the weights of a percentage router add up to 100 (they add up to ${sum})`));
    }
  }

  const owner = new Map<string, string>();
  for (const [name, router] of routers) {
    if (!isObject(router) || !Array.isArray(router.aliases)) continue;
    router.aliases.forEach((alias, i) => {
      const path = ['routers', name, 'aliases', i];
      if (typeof alias !== 'string' || failed.has(toPointer(path))) return;
      const first = owner.get(alias);
      if (alias !== name && routerSet.has(alias)) {
        issues.push(locator.issue(path, `alias ${show(alias, path)} is the name of another router`));
      } else if (first !== undefined && first !== name) {
        issues.push(locator.issue(path, `alias ${show(alias, path)} is already an alias of router "${first}"`));
      }
      if (first === undefined) owner.set(alias, name);
    });
  }

  // Feature and interceptor configs that name an upstream's embeddings.
  const stageConfigs: [DataPath, unknown][] = [];
  const collectStages = (base: DataPath, holder: unknown): void => {
    if (!isObject(holder)) return;
    for (const [feature, value] of entries(holder.features)) stageConfigs.push([[...base, 'features', feature], value]);
    if (Array.isArray(holder.interceptors)) {
      holder.interceptors.forEach((item, i) => {
        for (const [interceptor, value] of entries(item)) stageConfigs.push([[...base, 'interceptors', i, interceptor], value]);
      });
    }
  };
  collectStages(['defaults'], config.defaults);
  for (const [name, router] of routers) collectStages(['routers', name], router);
  const prompts = isObject(config.prompts) ? Object.keys(config.prompts) : [];
  const mcpServers = isObject(config.mcp_servers) ? Object.keys(config.mcp_servers) : [];
  for (const [path, value] of stageConfigs) {
    if (!isObject(value)) continue;
    const embedder = value.embedder;
    if (isObject(embedder) && typeof embedder.upstream === 'string' && !upstreams.includes(embedder.upstream)) {
      unknown([...path, 'embedder', 'upstream'], 'upstream', embedder.upstream, upstreams);
    }
    if (path.at(-2) === 'features' && path.at(-1) === 'context_compression') {
      if (typeof value.router === 'string' && !routerNames.includes(value.router)) unknown([...path, 'router'], 'router', value.router, routerNames);
      if (typeof value.prompt === 'string' && !prompts.includes(value.prompt)) unknown([...path, 'prompt'], 'prompt', value.prompt, prompts);
    }
    if (path.at(-2) === 'features' && path.at(-1) === 'mcp_tools' && Array.isArray(value.servers)) {
      value.servers.forEach((server, i) => {
        if (typeof server === 'string' && !mcpServers.includes(server)) unknown([...path, 'servers', i], 'MCP server', server, mcpServers);
      });
    }
  }

  const defaultFeatures = isObject(config.defaults) && isObject(config.defaults.features) ? config.defaults.features : {};
  for (const [name, router] of routers) {
    const features = { ...defaultFeatures, ...(isObject(router) && isObject(router.features) ? router.features : {}) };
    if (features.response_prefetch !== undefined && features.cache === undefined && features.semantic_cache === undefined) {
      const own = isObject(router) && isObject(router.features) && router.features.response_prefetch !== undefined;
      issues.push(locator.issue(own ? ['routers', name, 'features', 'response_prefetch'] : ['defaults', 'features', 'response_prefetch'], `router "${name}" has response_prefetch but no cache or semantic_cache to warm`));
    }
  }
  checkInterceptors(config, routers, issues, { locator, fromEnv, failed, unknown, show });

  const redis = isObject(config.state) && isObject(config.state.redis) ? config.state.redis : null;
  if (redis) {
    const given = ['url', 'nodes', 'sentinels'].filter((k) => redis[k] !== undefined);
    if (given.length !== 1) {
      issues.push(
        locator.issue(
          ['state', 'redis'],
          given.length === 0
            ? 'needs one of `url` (one server), `nodes` (a Redis Cluster) or `sentinels` with `name`'
            : `set only one of \`url\`, \`nodes\`, \`sentinels\` (it sets ${given.join(' and ')})`,
        ),
      );
    }
  }

  const defaultRouter = config.default_router;
  if (typeof defaultRouter === 'string' && !routerSet.has(defaultRouter)) {
    const path = ['default_router'];
    const aliased = owner.get(defaultRouter);
    if (aliased !== undefined) {
      issues.push(locator.issue(path, `${show(defaultRouter, path)} is an alias; default_router names a router`, { suggestion: aliased }));
    } else {
      unknown(path, 'router', defaultRouter, routerNames);
    }
  }
  return issues;
}

interface InterceptorCheck extends CheckContext {
  unknown(path: DataPath, what: string, value: string, names: string[]): void;
  show(value: string, path: DataPath): string;
}

/** The interceptor lists of the file: each router's own, and the defaults' (used by routers without their own). */
function interceptorLists(config: Obj, routers: [string, unknown][]): { path: DataPath; items: unknown[]; targets: string[][] }[] {
  const out: { path: DataPath; items: unknown[]; targets: string[][] }[] = [];
  const targetsOf = (router: unknown): string[] =>
    isObject(router) && Array.isArray(router.targets) ? router.targets.flatMap((t) => (isObject(t) && typeof t.upstream === 'string' ? [t.upstream] : [])) : [];
  const inheriting: string[][] = [];
  for (const [name, router] of routers) {
    if (isObject(router) && Array.isArray(router.interceptors)) out.push({ path: ['routers', name, 'interceptors'], items: router.interceptors, targets: [targetsOf(router)] });
    else inheriting.push(targetsOf(router));
  }
  const defaults = isObject(config.defaults) ? config.defaults.interceptors : undefined;
  if (Array.isArray(defaults)) out.push({ path: ['defaults', 'interceptors'], items: defaults, targets: inheriting });
  return out;
}

function checkInterceptors(config: Obj, routers: [string, unknown][], issues: ConfigIssue[], check: InterceptorCheck): void {
  const prompts = isObject(config.prompts) ? config.prompts : {};
  const routerNames = routers.map(([name]) => name);
  for (const list of interceptorLists(config, routers)) {
    list.items.forEach((item, i) => {
      if (!isObject(item)) return;
      const at: DataPath = [...list.path, i];
      if (isObject(item.prompt) && typeof item.prompt.name === 'string') checkPrompt(item.prompt, [...at, 'prompt'], prompts, issues, check);
      const routes: [DataPath, Obj][] = [];
      if (isObject(item.ab_test) && Array.isArray(item.ab_test.variants)) {
        item.ab_test.variants.forEach((v, j) => isObject(v) && routes.push([[...at, 'ab_test', 'variants', j], v]));
      }
      if (isObject(item.semantic_classifier) && isObject(item.semantic_classifier.classes)) {
        for (const [name, c] of Object.entries(item.semantic_classifier.classes)) if (isObject(c)) routes.push([[...at, 'semantic_classifier', 'classes', name], c]);
      }
      for (const [path, route] of routes) {
        if (typeof route.router === 'string' && !routerNames.includes(route.router)) check.unknown([...path, 'router'], 'router', route.router, routerNames);
        if (typeof route.target !== 'string' || check.failed.has(toPointer([...path, 'target']))) continue;
        const target = route.target;
        const missing = list.targets.find((targets) => !targets.includes(target));
        if (missing) {
          issues.push(check.locator.issue([...path, 'target'], `${check.show(target, [...path, 'target'])} is not an upstream of this router's targets (${missing.join(', ')})`, { suggestion: closest(target, missing) }));
        }
      }
    });
  }
}

/** A `prompt` interceptor names a template of `prompts`, and every `{{variable}}` it uses is declared. */
function checkPrompt(item: Obj, path: DataPath, prompts: Obj, issues: ConfigIssue[], check: InterceptorCheck): void {
  const name = item.name as string;
  const prompt = prompts[name];
  if (!isObject(prompt)) return check.unknown([...path, 'name'], 'prompt', name, Object.keys(prompts));
  if (typeof prompt.template !== 'string') return;
  const declared = new Set([...Object.keys(isObject(prompt.variables) ? prompt.variables : {}), ...Object.keys(isObject(item.variables) ? item.variables : {})]);
  const missing = templateVariables(prompt.template).filter((v) => !declared.has(v));
  if (missing.length) {
    issues.push(
      check.locator.issue(
        [...path, 'name'],
        `prompt "${name}" uses ${missing.map((v) => `{{${v}}}`).join(', ')}, which neither prompts.${name}.variables nor this interceptor's variables declare`,
      ),
    );
  }
}
