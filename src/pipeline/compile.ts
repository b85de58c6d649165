import type { LoadedConfig } from '../config/load.js';
import type { GatewayConfig, InterceptorItem, RouterConfig, UpstreamConfig } from '../config/types.js';
import type { FeatureModule, InterceptorModule } from '../features/feature.js';
import { FEATURE_MODULES } from '../features/registry.js';
import { INTERCEPTOR_MODULES } from '../interceptors/registry.js';
import { STREAM_USAGE } from '../features/stream-usage.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { credentialOf } from '../providers/http.js';
import { CONFIG_DEFAULTS } from '../config/defaults.js';
import { effectiveFeatures, effectiveInterceptors } from '../config/effective.js';
import type { Provider, ProviderFactory, ProviderModule } from '../providers/provider.js';
import { PROVIDER_MODULES } from '../providers/registry.js';
import { parseDuration, parseSize } from '../util/units.js';
import { createStrategy, STRATEGY_DESCRIPTIONS, type Strategy } from './strategies.js';
import { Pricing } from '../pricing.js';
import type { CompiledRouter, CompiledTarget, CompiledUpstream, Pipeline } from './compiled.js';
import { baseCall } from './call.js';
import { buildPhases, composeCall, orderStages, type Phases } from './phases.js';
import type { PlacedStage, Stage } from './stage.js';
import { STAGE_ORDER } from './order.js';
import type { CompileDeps } from './compile-deps.js';
import { createHash } from 'node:crypto';
import { clientIpResolver, type ClientIp } from '../server/client-ip.js';
import { MemoryStore } from '../state/memory.js';
import { serverLimits } from '../server/limits.js';
import { knownModelSteps, ModelLabels } from '../observability/model-labels.js';
import { runSliced, runSteps, type Steps } from '../util/slices.js';
import { redactUrl } from '../config/redact.js';
import type { StateStore } from '../state/store.js';
import { Embedders } from '../embeddings/create.js';
import type { Inject } from '../server/inject.js';
import type { Telemetry } from '../observability/telemetry.js';
import { NO_EVENTS, type EventSink } from '../events/events.js';
import type { Tenancy } from '../tenancy/tenancy.js';
import { McpServers } from '../mcp/servers.js';
import { hookModulePath, NO_HOOK_MODULES } from './hook-modules.js';
import type { HookModules } from './hook-modules.js';
import { KnownBodies } from './known-bodies.js';

export interface CompileOptions {
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** User hooks (library API), added to every router. */
  readonly hooks: readonly Stage[];
  /** Provider factories by `provider:` name; library users may replace built-in ones. */
  readonly providers: Readonly<Record<string, ProviderFactory>>;
  /** The gateway's state store; a throwaway memory store when absent (`sidegate explain`). */
  readonly state?: StateStore;
  /** The clock (epoch ms); default Date.now. */
  readonly now?: () => number;
  /** The modules `custom` interceptors name, loaded beforehand (hook-modules.ts); none by default. */
  readonly modules?: HookModules;
  /** Runs a request through the gateway in process; absent when no gateway runs (`sidegate explain`). */
  readonly inject?: Inject;
  /** The gateway's OpenTelemetry exporters, when `telemetry` is configured. */
  readonly telemetry?: Telemetry | null;
  /** Where features send events (webhooks); nothing is sent when absent. */
  readonly events?: EventSink;
  /** Compiling with no network (explain, diff, route): MCP servers are never contacted. */
  readonly offline?: boolean;
}

const NO_GATEWAY: Inject = () => Promise.reject(new Error('no gateway is running this pipeline'));

/**
 * The modules of the features, interceptors and providers one config uses, imported before
 * its routers are built (building stays synchronous). Nothing the config does not name is
 * imported: a feature that is not configured costs nothing, not even its module.
 */
interface ConfigModules {
  /** The features some router uses, in pipeline order. */
  readonly features: readonly FeatureModule[];
  readonly interceptors: ReadonlyMap<string, InterceptorModule>;
  /** The built-in provider modules the upstreams name. */
  readonly providers: ReadonlyMap<string, ProviderModule>;
  readonly tenancy: typeof import('../tenancy/tenancy.js') | null;
}

async function importNamed<M>(kind: string, table: Readonly<Record<string, () => Promise<M>>>, names: Iterable<string>): Promise<Map<string, M>> {
  const out = new Map<string, M>();
  for (const name of new Set(names)) {
    if (!Object.hasOwn(table, name)) throw new Error(`no ${kind} "${name}"`);
    out.set(name, await table[name]!());
  }
  return out;
}

async function importModules(loaded: LoadedConfig): Promise<ConfigModules> {
  const config = loaded.config;
  const routers = Object.values(config.routers);
  const featureNames = [config.defaults?.features, ...routers.map((r) => r.features)].flatMap((f) => Object.keys(f ?? {}));
  const interceptorNames = [config.defaults?.interceptors, ...routers.map((r) => r.interceptors)].flatMap((list) => (list ?? []).map(interceptorName));
  const [features, interceptors, providers, tenancy] = await Promise.all([
    importNamed('feature', FEATURE_MODULES, featureNames),
    importNamed('interceptor', INTERCEPTOR_MODULES, interceptorNames),
    importNamed('provider', PROVIDER_MODULES, Object.values(config.upstreams).map((u) => u.provider).filter((p) => Object.hasOwn(PROVIDER_MODULES, p))),
    loaded.keys ? import('../tenancy/tenancy.js') : null,
  ]);
  return { features: [...features.values()].sort((a, b) => a.order - b.order), interceptors, providers, tenancy };
}

/** What every router of one pipeline shares when its features are built. */
interface Shared {
  readonly hookModule: CompileDeps['hookModule'];
  readonly state: StateStore;
  readonly now: () => number;
  readonly pricing: Pricing;
  readonly clientIp: ClientIp;
  readonly embedders: Embedders;
  readonly inject: Inject;
  readonly routerNames: ReadonlySet<string>;
  readonly prompts: CompileDeps['prompts'];
  readonly events: EventSink;
  readonly tenancy: Tenancy | null;
  readonly mcp: McpServers;
}

function compileUpstream(name: string, config: UpstreamConfig, connectTimeoutMs: number | null, options: CompileOptions, modules: ConfigModules): CompiledUpstream {
  const module = modules.providers.get(config.provider);
  const factory = options.providers[config.provider] ?? module?.create;
  if (!factory) throw new Error(`upstreams.${name}.provider: no provider "${config.provider}"`);
  return Object.freeze({
    name,
    provider: factory(config, {
      name,
      connectTimeoutMs,
      timeoutMs: parseDuration(config.timeout ?? CONFIG_DEFAULTS.timeout),
      connections: config.connections ?? CONFIG_DEFAULTS.connections,
    }),
    wsOrigin: config.url ?? (module && !module.inProcess ? module.defaultUrl : null),
    credential: credentialOf(config.auth),
    where: module?.inProcess ? 'in process' : redactUrl(config.url ?? module?.defaultUrl ?? ''),
  });
}

function describeUpstream(upstream: CompiledUpstream, config: UpstreamConfig): string {
  const auth = !config.auth || config.auth === 'passthrough' ? "caller's credential" : 'injected credential';
  return `${upstream.name} (${config.provider}, ${upstream.where}, ${auth}, timeout ${config.timeout ?? CONFIG_DEFAULTS.timeout})`;
}

function interceptorName(item: InterceptorItem): string {
  return Object.keys(item)[0]!;
}


/** The exports of the loaded module a `custom` interceptor names. */
function hookModuleReader(modules: HookModules, source: string): CompileDeps['hookModule'] {
  return (spec) => {
    const path = hookModulePath(spec, source);
    const module = modules.get(path);
    if (!module) throw new Error(`custom: module ${path} was not loaded before compiling`);
    return module.exports;
  };
}

/** The targets a request may go to, in order: the strategy's pick, through the stages' filters. */
function candidatesOf(strategy: Strategy, filters: Phases['filterTargets']): CompiledRouter['candidates'] {
  if (!filters) return (ctx) => strategy.pick(ctx);
  return (ctx) => {
    let list = strategy.pick(ctx);
    if (ctx) for (const filter of filters) list = filter(ctx, list);
    return list;
  };
}

/**
 * One copy of each explain line for the whole pipeline: 10,000 routers under the same
 * `defaults` describe their stages with the same text, which then costs one string, not
 * one per router (a reload allocates, and the collector copies, all of what compile keeps).
 */
type Texts = Map<string, string>;

function shared(texts: Texts, text: string): string {
  const known = texts.get(text);
  if (known !== undefined) return known;
  texts.set(text, text);
  return text;
}

/**
 * Builds one router: its stages placed on the ordered line (features, interceptors, hooks
 * by priority). No closure is made here that the router keeps (they come from the helpers
 * above), so nothing of this function's working state outlives it.
 */
function compileRouter(
  name: string,
  config: RouterConfig,
  loaded: LoadedConfig,
  upstreams: ReadonlyMap<string, CompiledUpstream>,
  options: CompileOptions,
  common: Omit<Shared, 'tenancy'>,
  tenancy: Tenancy | null,
  texts: Texts,
  imported: ConfigModules,
): CompiledRouter {
  const features = effectiveFeatures(loaded.config, config);
  const interceptors = effectiveInterceptors(loaded.config, config);
  const targets: CompiledTarget[] = [];
  for (const [index, t] of config.targets.entries()) targets.push(Object.freeze({ index, upstream: upstreams.get(t.upstream)!, model: t.model ?? null, weight: t.weight ?? 1 }));
  const routerFingerprint = createHash('sha256').update(JSON.stringify(config.targets)).digest('hex').slice(0, 16);
  const deps: CompileDeps = { routerName: name, targets, logger: options.logger, metrics: options.metrics, routerFingerprint, ...common };
  const explain: string[] = [];

  const builtins: PlacedStage[] = [{ stage: STREAM_USAGE, order: STAGE_ORDER.stream_usage }];
  const described = new Map<Stage, string>();
  for (const { stage, order, description } of tenancy?.stagesFor() ?? []) {
    builtins.push({ stage, order });
    described.set(stage, description);
  }
  for (const feature of imported.features) {
    const featureConfig = features[feature.name];
    if (featureConfig === undefined) continue;
    const stage = feature.create(featureConfig, deps);
    builtins.push({ stage, order: feature.order });
    described.set(stage, `feature ${feature.name}: ${feature.describe(featureConfig)}`);
  }
  for (const [i, item] of interceptors.entries()) {
    const iname = interceptorName(item);
    const module = imported.interceptors.get(iname);
    if (!module) throw new Error(`routers.${name}.interceptors: no interceptor "${iname}"`);
    const stage = module.create(item[iname], deps);
    // A custom module's own `priority` may place it anywhere on the line (before rate_limit…).
    builtins.push({ stage, order: stage.priority ?? STAGE_ORDER.interceptors + i });
    described.set(stage, `interceptor ${iname}: ${module.describe(item[iname])}`);
  }

  const placed = orderStages(builtins, options.hooks);
  // The built-in stream_usage stage is plumbing every router has, not a choice of the
  // config: explain mentions it once (below the stages), and reviews do not list it.
  const stages: Stage[] = [];
  for (const { stage, order } of placed) {
    if (stage === STREAM_USAGE) continue;
    stages.push(stage);
    explain.push(shared(texts, `${String(order).padStart(4)}  ${described.get(stage) ?? `hook ${stage.name}`}`));
  }
  const phases = buildPhases(placed);
  const strategy = createStrategy(config.strategy ?? CONFIG_DEFAULTS.strategy, targets, common.pricing);
  return Object.freeze({
    name,
    aliases: Object.freeze([...(config.aliases ?? [])]),
    targets: Object.freeze(targets),
    candidates: candidatesOf(strategy, phases.filterTargets),
    observe: strategy.observe ? strategy.observe.bind(strategy) : null,
    strategy,
    stages,
    phases,
    call: composeCall(placed, baseCall),
    metrics: options.metrics.forRouter(name),
    explain: Object.freeze(explain),
  });
}

/**
 * Config → frozen Pipeline. Everything the request path uses is built here: providers
 * with their pools, stages, phase arrays, metric children. The modules of the features,
 * interceptors and providers the config names are imported first (only those); the
 * building itself is synchronous. If anything fails, what was already built is closed and
 * the error propagates (the live pipeline stays).
 */
export async function compile(loaded: LoadedConfig, options: CompileOptions): Promise<Pipeline> {
  return runSteps(compileSteps(loaded, options, await importModules(loaded)));
}

/**
 * `compile` in the background slices (util/slices.ts): a reload of a config with
 * thousands of routers runs between requests instead of stalling them.
 */
export async function compileSliced(loaded: LoadedConfig, options: CompileOptions): Promise<Pipeline> {
  return runSliced(compileSteps(loaded, options, await importModules(loaded)));
}

/** The work of compiling, one router per step (and every pass over all routers in steps too). */
function* compileSteps(loaded: LoadedConfig, options: CompileOptions, modules: ConfigModules): Steps<Pipeline> {
  const started = performance.now();
  const config = loaded.config;
  const upstreams = new Map<string, CompiledUpstream>();
  const mcp = new McpServers(config.mcp_servers ?? {}, options.logger, options.offline !== true);
  try {
    const connectTimeouts = yield* connectTimeoutSteps(config);
    for (const [name, upstream] of Object.entries(config.upstreams)) {
      upstreams.set(name, compileUpstream(name, upstream, connectTimeouts.get(name) ?? null, options, modules));
    }
    const pricing = new Pricing(config.pricing);
    const state = options.state ?? new MemoryStore(options.now);
    const now = options.now ?? Date.now;
    const clientIp = clientIpResolver(config.server?.trusted_proxies);
    const events = options.events ?? NO_EVENTS;
    const tenancy = loaded.keys && modules.tenancy
      ? new modules.tenancy.Tenancy(config, loaded.keys, { state, now, logger: options.logger, metrics: options.metrics, pricing, clientIp, events }, targetModels(config))
      : null;
    const shared: Shared = {
      hookModule: hookModuleReader(options.modules ?? NO_HOOK_MODULES, loaded.source),
      state,
      now,
      pricing,
      clientIp,
      embedders: new Embedders((upstream) => upstreams.get(upstream)?.provider),
      inject: options.inject ?? NO_GATEWAY,
      routerNames: new Set(Object.keys(config.routers)),
      prompts: config.prompts ?? {},
      events,
      tenancy,
      mcp,
    };
    const { tenancy: _tenancy, ...common } = shared;
    const texts: Texts = new Map();
    const routers = new Map<string, CompiledRouter>();
    const byModel = new Map<string, CompiledRouter>();
    for (const [name, routerConfig] of Object.entries(config.routers)) {
      const router = compileRouter(name, routerConfig, loaded, upstreams, options, common, tenancy, texts, modules);
      routers.set(name, router);
      byModel.set(name, router);
      for (const alias of router.aliases) byModel.set(alias, router);
      yield;
    }
    const known = yield* knownModelSteps(config);
    return Object.freeze({
      loaded,
      version: loaded.hash.slice(0, 12),
      compiledAt: new Date(),
      compileMs: performance.now() - started,
      routers,
      byModel,
      defaultRouter: config.default_router ? routers.get(config.default_router)! : null,
      upstreams,
      pricing,
      maxBody: parseSize(config.server?.max_body ?? CONFIG_DEFAULTS.max_body),
      knownBodies: Object.values(config.routers).some((r) => r.features?.cache !== undefined) ? new KnownBodies() : null,
      limits: serverLimits(config.server),
      modelLabels: new ModelLabels(known, pricing),
      accessLog: config.logging?.access ?? CONFIG_DEFAULTS.access_log,
      telemetry: options.telemetry ? options.telemetry.forPipeline(config.upstreams) : null,
      tenancy,
      adminToken: config.server?.admin_token ? createHash('sha256').update(config.server.admin_token).digest() : null,
      lease: { inflight: 0, retired: false },
    });
  } catch (err) {
    void closeProviders([...upstreams.values()].map((u) => u.provider));
    void mcp.close();
    throw err;
  }
}

async function closeProviders(providers: Provider[]): Promise<void> {
  await Promise.allSettled(providers.map((p) => p.close()));
}

/** Closes every pool and stage resource a pipeline opened; called once no request uses it any more. */
export async function closePipeline(pipeline: Pipeline): Promise<void> {
  const stages = new Set<Stage>();
  for (const router of pipeline.routers.values()) for (const stage of router.stages) if (stage.close) stages.add(stage);
  await Promise.allSettled([...stages].map(async (stage) => stage.close!()));
  await closeProviders([...pipeline.upstreams.values()].map((u) => u.provider));
}

/** Every model a target rewrites to (budget estimates count with their encodings). */
function targetModels(config: LoadedConfig['config']): (string | null)[] {
  return Object.values(config.routers).flatMap((r) => r.targets.map((t) => t.model ?? null));
}

/**
 * undici sets the connect timeout per pool, and a pool serves one upstream: each upstream
 * gets the smallest `timeout.connect` of the routers that send to it.
 */
function* connectTimeoutSteps(config: LoadedConfig['config']): Steps<Map<string, number>> {
  const out = new Map<string, number>();
  for (const router of Object.values(config.routers)) {
    yield;
    const timeout = effectiveFeatures(config, router).timeout as { connect?: string } | undefined;
    if (!timeout?.connect) continue;
    const ms = parseDuration(timeout.connect);
    for (const t of router.targets) out.set(t.upstream, Math.min(out.get(t.upstream) ?? ms, ms));
  }
  return out;
}

/** The `sidegate explain` text of a compiled pipeline. */
export function explainPipeline(pipeline: Pipeline): string {
  const config = pipeline.loaded.config;
  const lines: string[] = [`config ${pipeline.loaded.source} (version ${pipeline.version}), compiled in ${pipeline.compileMs.toFixed(1)} ms`];
  lines.push(`max_body ${pipeline.maxBody} bytes; default_router: ${config.default_router ?? '(none: an unmatched model is a 404)'}`);
  for (const router of pipeline.routers.values()) {
    const rc = config.routers[router.name]!;
    lines.push('', `router ${router.name}${router.aliases.length ? ` (aliases: ${router.aliases.join(', ')})` : ''}`);
    lines.push(`  selected by: POST /router/${router.name}/v1/...; "model": ${[router.name, ...router.aliases].map((n) => JSON.stringify(n)).join(' | ')}${config.default_router === router.name ? '; any other model (default router)' : ''}`);
    const strategy = rc.strategy ?? CONFIG_DEFAULTS.strategy;
    lines.push(`  strategy: ${strategy}: ${STRATEGY_DESCRIPTIONS[strategy]}`);
    lines.push('  targets:');
    for (const t of router.targets) {
      const weight = rc.targets[t.index]!.weight === undefined ? '' : `; weight ${t.weight}`;
      lines.push(`    ${t.index + 1}. ${describeUpstream(t.upstream, config.upstreams[t.upstream.name]!)}; model: ${t.model ?? "the caller's"}${weight}`);
    }
    lines.push('  pipeline (request side top to bottom, response side bottom to top):');
    if (router.explain.length === 0) lines.push('    (no features or interceptors: requests go straight to the target)');
    for (const line of router.explain) lines.push(`    ${line}`);
    lines.push('    upstream call → response forwarded (streams event by event; every stream asks the upstream for usage) → metrics and access log');
  }
  return lines.join('\n');
}
