import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { stringify } from 'yaml';
import { ConfigError, loadConfigFile, loadConfigText, type LoadedConfig } from './config/load.js';
import type { GatewayConfig } from './config/types.js';
import { watchConfigFile, type ConfigWatcher } from './config/watch.js';
import { createLogger, type Logger } from './observability/logger.js';
import { Metrics } from './observability/metrics.js';
import { closePipeline, compile, compileSliced, type CompileOptions } from './pipeline/compile.js';
import { ConfigLoader, type AsyncLoad } from './config/load-async.js';
import { onClientError, timeoutOptions } from './server/client-error.js';
import { GatewayError } from './errors.js';
import type { RequestContext } from './pipeline/context.js';
import { InFlightRequests } from './server/in-flight.js';
import type { CompiledRouter, Pipeline } from './pipeline/compiled.js';
import { handleRequest, type Runtime } from './pipeline/handle.js';
import type { Stage } from './pipeline/stage.js';
import type { ProviderFactory } from './providers/provider.js';
import { listenOn } from './server/address.js';
import { CONFIG_DEFAULTS } from './config/defaults.js';
import { adminHandler } from './server/admin.js';
import { proxyUpgrade } from './upstream/websocket.js';
import { parseDuration } from './util/units.js';
import { tokenMatches } from './server/admin-token.js';
import { createStateStore, stateIdentity } from './state/create.js';
import type { StateStore } from './state/store.js';
import { hookModulePathSteps, hookModulePaths, loadHookModules, loadHookModulesSync, NO_HOOK_MODULES, sameHookModules, type HookModules } from './pipeline/hook-modules.js';
import { injector, type Inject, type InjectedResponse, type InjectRequest } from './server/inject.js';
import { Telemetry, telemetryIdentity } from './observability/telemetry.js';
import { Webhooks } from './events/webhooks.js';
import type { EventData, EventSink, EventType } from './events/events.js';
import { diffConfigSteps } from './config/diff.js';
import { runSliced, runSteps, type Steps } from './util/slices.js';
import { formatIssue } from './config/load.js';
import { HEALTH_PATHS, METRICS_PATHS } from './server/admin.js';
import { memoryStageOf } from './features/memory-stages.js';

/** How long webhooks may keep delivering what they hold when they are replaced or the gateway closes. */
const WEBHOOK_GRACE_MS = 2000;

/** A config file path, inline YAML text, or an already-parsed config object. */
export type ConfigSource = string | { yaml: string; source?: string } | GatewayConfig;

export interface GatewayOptions {
  /** Reload when the config file changes (only for a file path). Default true. */
  watch?: boolean;
  /** Stages added to every router, ordered by `priority` (seed 002's hooks). */
  hooks?: Stage[];
  /** Provider factories by `provider:` name, replacing built-in ones. */
  providers?: Record<string, ProviderFactory>;
  /** A pino logger to use instead of the gateway's own. */
  logger?: Logger;
  /** Where `${VAR}` reads from; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** The clock in epoch milliseconds (rate limits, budget periods, cache age); default Date.now. Tests inject one. */
  now?: () => number;
}

export interface ListenOverrides {
  /** Overrides `server.listen` (e.g. `127.0.0.1:0` in tests). */
  listen?: string;
  /** Overrides `server.admin`; false disables the admin listener. */
  admin?: string | false;
  /** Overrides `server.health` (the probe-only listener); false disables it. */
  health?: string | false;
  /** Overrides `server.metrics` (the /metrics-only listener); false disables it. */
  metrics?: string | false;
}

export interface Addresses {
  /** The data plane's base URL, e.g. http://127.0.0.1:8080 (the SDK baseURL is this + /v1). */
  url: string;
  adminUrl: string | null;
  /** The probe-only listener (`/healthz`, `/readyz`), when `server.health` is set. */
  healthUrl: string | null;
  /** The `/metrics`-only listener, when `server.metrics` is set. */
  metricsUrl: string | null;
}

export interface ReloadResult {
  changed: boolean;
  version: string;
  compileMs: number;
}

function load(source: ConfigSource, env: NodeJS.ProcessEnv): LoadedConfig {
  if (typeof source === 'string') return loadConfigFile(source, env);
  if ('yaml' in source && typeof source.yaml === 'string') return loadConfigText(source.yaml, source.source ?? '<inline>', env);
  return loadConfigText(stringify(source), '<object>', env);
}

/** `load` on the loader's worker thread (reloads), skipping the result when its hash is `unlessHash`. */
function loadOffThread(loader: ConfigLoader, source: ConfigSource, env: NodeJS.ProcessEnv, unlessHash: string): Promise<AsyncLoad> {
  if (typeof source === 'string') return loader.load({ kind: 'file', path: source }, env, unlessHash);
  if ('yaml' in source && typeof source.yaml === 'string') {
    return loader.load({ kind: 'text', text: source.yaml, source: source.source ?? '<inline>' }, env, unlessHash);
  }
  return loader.load({ kind: 'text', text: stringify(source), source: '<object>' }, env, unlessHash);
}

/** Routers of the /stats document built per step. */
const STATS_ROUTERS_PER_STEP = 200;

/** Each router's upstream names for /stats, made once (a dashboard may poll /stats of 10,000 routers often). */
const TARGET_NAMES = new WeakMap<CompiledRouter, readonly string[]>();
function targetNames(router: CompiledRouter): readonly string[] {
  let names = TARGET_NAMES.get(router);
  if (!names) TARGET_NAMES.set(router, (names = Object.freeze(router.targets.map((t) => t.upstream.name))));
  return names;
}

/** How long the drain cut waits for the streams it ended to flush their final `error` event. */
const CUT_GRACE_MS = 1000;

/**
 * The engine: a live compiled pipeline, a Node request handler, listeners, reload and
 * shutdown. `createGateway()` is the only way to make one.
 *
 * Events: `reload` ({ version, previous, compileMs }), `reload_error` (ConfigError or
 * compile error), `close`.
 */
export class Gateway extends EventEmitter implements Runtime {
  readonly logger: Logger;
  readonly metrics = new Metrics(() => this.inflight);
  /** The Node request handler: usable in any `http.createServer` or framework. */
  readonly handler: (req: IncomingMessage, res: ServerResponse) => void;
  /** The Node `upgrade` handler for WebSockets (`/v1/realtime`). */
  readonly upgradeHandler: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

  private live!: Pipeline;
  /** The modules the live config's `custom` interceptors use (reloaded with the config). */
  private modules: HookModules = NO_HOOK_MODULES;
  /** Counters and caches, owned here so they outlive reloads; replaced only when `state:` changes. */
  private store: StateStore;
  private readonly now: () => number;
  private source: ConfigSource;
  private readonly env: NodeJS.ProcessEnv;
  private readonly compileOptions: CompileOptions;
  private readonly startedAt = Date.now();
  private readonly ownsLogger: boolean;
  private inflight = 0;
  /** Requests in flight, so the drain cut can end each one properly (an SSE `error` event for streams). */
  private readonly active = new InFlightRequests();
  /** Parses and validates reloads off the event loop. */
  private readonly loader = new ConfigLoader();
  private idleWaiters: Array<() => void> = [];
  private reloadChain: Promise<unknown> = Promise.resolve();
  private reloadCounts = { success: 0, error: 0, unchanged: 0 };
  private lastReloadError: string | null = null;
  private watcher: ConfigWatcher | null = null;
  /** Watches `auth.keys_file` (its path follows the live config). */
  private keysWatcher: { path: string; watcher: ConfigWatcher } | null = null;
  /** One watcher per hook module file of the live config: editing a hook reloads, as editing the config does. */
  private readonly hookWatchers = new Map<string, ConfigWatcher>();
  private readonly watchFiles: boolean;
  private server: Server | null = null;
  private admin: Server | null = null;
  /** The probe-only and metrics-only listeners, when configured. */
  private side: Server[] = [];
  /** OpenTelemetry exporters, when `telemetry` is configured; replaced only when that section changes. */
  private telemetry: Telemetry | null;
  /** The configured webhooks, replaced only when `webhooks` changes. */
  private webhooks: Webhooks | null;
  /**
   * What compiled features emit into: a stable sink that forwards to the current webhooks
   * (library users may emit too, e.g. tenancy's `key.expired`).
   */
  readonly events: EventSink = {
    emit: <T extends EventType>(type: T, data: EventData[T]): void => {
      if (this.webhooks !== null) this.webhooks.emit(type, data);
    },
  };
  private upgraded = new Set<Duplex>();
  private isDraining = false;
  private closed: Promise<void> | null = null;
  private injectRequest: Inject | null = null;

  /**
   * Runs a request through the live pipeline in process, as a client's would run (routing,
   * stages, the response side), and collects the whole answer.
   */
  inject(request: InjectRequest): Promise<InjectedResponse> {
    if (!this.injectRequest) return Promise.reject(new Error('the gateway is not ready'));
    return this.injectRequest(request);
  }

  private constructor(source: ConfigSource, options: GatewayOptions, env: NodeJS.ProcessEnv, loaded: LoadedConfig) {
    super();
    this.env = env;
    this.source = source;
    this.ownsLogger = options.logger === undefined;
    this.logger = options.logger ?? createLogger(loaded.config.logging?.level);
    this.compileOptions = {
      logger: this.logger,
      metrics: this.metrics,
      hooks: Object.freeze([...(options.hooks ?? [])]),
      providers: Object.freeze({ ...options.providers }),
      inject: (request) => this.inject(request),
    };
    this.now = options.now ?? Date.now;
    this.store = this.newStore(loaded);
    this.telemetry = null;
    this.webhooks = null;
    this.handler = (req, res) => handleRequest(this, req, res);
    this.injectRequest = injector(this.handler);
    this.upgradeHandler = (req, socket, head) => this.onUpgrade(req, socket, head);
    this.watchFiles = options.watch !== false;
  }

  /** Loads and compiles `source` (see createGateway). */
  static async create(source: ConfigSource, options: GatewayOptions = {}): Promise<Gateway> {
    const env = options.env ?? process.env;
    const loaded = load(source, env);
    const gateway = new Gateway(source, options, env, loaded);
    await gateway.open(loaded, options.watch !== false);
    return gateway;
  }

  /** The first compile (it imports the modules the config uses), then the file watchers. */
  private async open(loaded: LoadedConfig, watch: boolean): Promise<void> {
    const store = this.store;
    try {
      this.telemetry = loaded.config.telemetry ? new Telemetry(loaded.config.telemetry) : null;
      this.webhooks = this.newWebhooks(loaded);
      this.modules = loadHookModulesSync(hookModulePaths(loaded.config, loaded.source));
      this.live = await compile(loaded, { ...this.compileFor(store, this.telemetry), modules: this.modules });
    } catch (err) {
      void store.close();
      void this.telemetry?.close();
      void this.webhooks?.close(0);
      throw err;
    }
    this.metrics.setConfigVersion(this.live.version);
    this.followKeysFile();
    this.followHookFiles();
    const source = this.source;
    if (typeof source === 'string' && watch) {
      this.watcher = this.reloadOnChange(source, 'config watcher failed');
    }
  }

  private compileFor(state: StateStore, telemetry: Telemetry | null): CompileOptions {
    return { ...this.compileOptions, state, now: this.now, telemetry, events: this.events };
  }

  private newWebhooks(loaded: LoadedConfig): Webhooks | null {
    const list = loaded.config.webhooks;
    return list && list.length > 0 ? new Webhooks(list, this.logger, this.metrics) : null;
  }

  /** A watcher that reloads when `path` changes (a failed reload is logged and counted by reload itself). */
  private reloadOnChange(path: string, failed: string): ConfigWatcher {
    return watchConfigFile(
      path,
      () => void this.reload().catch(() => {}),
      (err) => this.logger.warn({ err, path }, failed),
    );
  }

  /** Watches the hook modules the live config loads (added and dropped as reloads change the list). */
  private followHookFiles(): void {
    if (!this.watchFiles || this.isDraining) return;
    for (const [path, watcher] of this.hookWatchers) {
      if (this.modules.has(path)) continue;
      void watcher.close();
      this.hookWatchers.delete(path);
    }
    for (const path of this.modules.keys()) {
      if (this.hookWatchers.has(path)) continue;
      this.hookWatchers.set(path, this.reloadOnChange(path, 'hook module watcher failed'));
    }
  }

  /** Watches the live config's keys file, whatever the config's own source (a mounted Secret changes on its own). */
  private followKeysFile(): void {
    const path = this.live.loaded.keysFile;
    if (!this.watchFiles || this.keysWatcher?.path === path || this.isDraining) return;
    void this.keysWatcher?.watcher.close();
    this.keysWatcher = path
      ? {
          path,
          watcher: this.reloadOnChange(path, 'keys file watcher failed'),
        }
      : null;
  }

  private newStore(loaded: LoadedConfig): StateStore {
    return createStateStore(loaded.config.state, { logger: this.logger, metrics: this.metrics, now: this.now });
  }

  /** The state store features keep their counters and caches in (emits `up`/`down` for redis). */
  get state(): StateStore {
    return this.store;
  }

  /** The pipeline new requests start on. */
  get pipeline(): Pipeline {
    return this.live;
  }

  get draining(): boolean {
    return this.isDraining;
  }

  current(): Pipeline {
    return this.live;
  }

  acquire(pipeline: Pipeline, ctx?: RequestContext): void {
    pipeline.lease.inflight++;
    this.inflight++;
    if (ctx) this.active.add(ctx);
  }

  release(pipeline: Pipeline, ctx?: RequestContext): void {
    pipeline.lease.inflight--;
    this.inflight--;
    if (ctx) this.active.delete(ctx);
    if (pipeline.lease.retired && pipeline.lease.inflight === 0) void closePipeline(pipeline);
    if (this.inflight === 0 && this.idleWaiters.length) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  /**
   * Loads the config again (from `source` if given, else from where it came) on a worker
   * thread, compiles it beside the live pipeline in slices between requests, and swaps
   * atomically. Requests in flight finish on the
   * pipeline they started with, whose pools close once they are done. A config that
   * fails to load or compile is logged and counted and never replaces the live one.
   */
  reload(source?: ConfigSource): Promise<ReloadResult> {
    const next = this.reloadChain.then(() => this.reloadNow(source));
    this.reloadChain = next.catch(() => {});
    return next;
  }

  private async reloadNow(source?: ConfigSource): Promise<ReloadResult> {
    if (source !== undefined) this.source = source;
    let pipeline: Pipeline;
    let modules: HookModules;
    let store = this.store;
    let telemetry = this.telemetry;
    let webhooks = this.webhooks;
    try {
      const result = await loadOffThread(this.loader, this.source, this.env, this.live.loaded.hash);
      const loaded = result.unchanged ? this.live.loaded : result.loaded; // the same hash: the same config
      modules = await loadHookModules(await runSliced(hookModulePathSteps(loaded.config, loaded.source)), this.modules);
      if (result.unchanged && sameHookModules(modules, this.modules)) {
        this.reloadCounts.unchanged++;
        this.metrics.reloads.labels('unchanged').inc();
        return { changed: false, version: this.live.version, compileMs: 0 };
      }
      const before = this.live.loaded.config;
      try {
        if (stateIdentity(loaded.config.state) !== stateIdentity(before.state)) store = this.newStore(loaded);
        if (telemetryIdentity(loaded.config.telemetry) !== telemetryIdentity(before.telemetry)) {
          telemetry = loaded.config.telemetry ? new Telemetry(loaded.config.telemetry) : null;
        }
        if (JSON.stringify(loaded.config.webhooks ?? []) !== JSON.stringify(before.webhooks ?? [])) webhooks = this.newWebhooks(loaded);
        pipeline = await compileSliced(loaded, { ...this.compileFor(store, telemetry), modules });
      } catch (err) {
        if (store !== this.store) void store.close();
        if (telemetry !== this.telemetry) void telemetry?.close();
        if (webhooks !== this.webhooks) void webhooks?.close(0);
        throw err;
      }
    } catch (err) {
      this.reloadCounts.error++;
      this.metrics.reloads.labels('error').inc();
      this.lastReloadError = err instanceof Error ? err.message : String(err);
      const issues = err instanceof ConfigError ? err.issues : undefined;
      this.logger.error({ issues, err: issues ? undefined : err }, 'config reload failed; keeping the running config');
      this.events.emit('reload.failed', { running: this.live.version, errors: issues ? issues.map(formatIssue) : [this.lastReloadError] });
      this.emit('reload_error', err);
      throw err;
    }
    // What changed, for the audit line: compared now, in slices, so that the swap below runs in one go.
    const changes = await runSliced(diffConfigSteps(this.live.loaded.config, pipeline.loaded.config));
    if (this.closed) {
      // The gateway closed while this reload was compiling: nothing will serve it.
      if (store !== this.store) void store.close();
      void closePipeline(pipeline);
      return { changed: false, version: this.live.version, compileMs: pipeline.compileMs };
    }
    const previous = this.live;
    this.live = pipeline;
    this.modules = modules;
    if (this.server) {
      const timeouts = timeoutOptions(pipeline.limits); // the checking interval stays as created
      this.server.headersTimeout = timeouts.headersTimeout;
      this.server.requestTimeout = timeouts.requestTimeout;
    }
    if (store !== this.store) {
      const old = this.store;
      this.store = store;
      void store.ready();
      void old.close();
    }
    if (telemetry !== this.telemetry) {
      const old = this.telemetry;
      this.telemetry = telemetry;
      void old?.close(); // spans of requests still in flight on the old config are dropped
    }
    if (webhooks !== this.webhooks) {
      const old = this.webhooks;
      this.webhooks = webhooks;
      void old?.close(WEBHOOK_GRACE_MS); // delivers what it still holds, in the background
    }
    previous.lease.retired = true;
    if (previous.lease.inflight === 0) void closePipeline(previous);
    this.followKeysFile();
    this.followHookFiles();
    this.reloadCounts.success++;
    this.lastReloadError = null;
    this.metrics.reloads.labels('success').inc();
    this.metrics.setConfigVersion(pipeline.version);
    const level = pipeline.loaded.config.logging?.level;
    if (level && this.ownsLogger) this.logger.level = level; // an injected logger keeps its owner's level
    const before = previous.loaded.config.server ?? {};
    const after = pipeline.loaded.config.server ?? {};
    if (this.server && (before.listen !== after.listen || before.admin !== after.admin)) {
      // Sockets stay bound where they are: only a restart moves them.
      this.logger.warn({ listen: after.listen, admin: after.admin }, 'server.listen and server.admin take effect at the next restart');
    }
    const event = { version: pipeline.version, previous: previous.version, compileMs: pipeline.compileMs };
    // The audit line: one per config change, naming what changed (never a value).
    this.logger.info({ ...event, hash: pipeline.loaded.hash, changes }, 'config reloaded');
    this.events.emit('reload.succeeded', { version: pipeline.version, previous: previous.version, compile_ms: Math.round(pipeline.compileMs * 100) / 100, changes });
    this.emit('reload', event);
    return { changed: true, version: pipeline.version, compileMs: pipeline.compileMs };
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.isDraining) {
      socket.destroy();
      return;
    }
    this.upgraded.add(socket);
    socket.once('close', () => this.upgraded.delete(socket));
    proxyUpgrade(this.live, req, socket, head);
  }

  /**
   * Resolves once the gateway watches its config file (at once when it does not).
   * `listen()` waits for it; an app that only mounts `handler` may await it too.
   */
  async ready(): Promise<void> {
    await Promise.all([this.watcher?.ready, this.keysWatcher?.watcher.ready, ...[...this.hookWatchers.values()].map((w) => w.ready), this.store.ready()]);
  }

  /** Starts the data-plane and admin listeners on the config's addresses (or the overrides). */
  async listen(overrides: ListenOverrides = {}): Promise<Addresses> {
    if (this.server) throw new Error('the gateway is already listening');
    await this.ready();
    const server = createServer({ keepAliveTimeout: 65_000, ...timeoutOptions(this.live.limits) }, this.handler);
    server.on('upgrade', this.upgradeHandler);
    server.on('clientError', onClientError);
    this.server = server;
    const serverConfig = this.live.loaded.config.server ?? {};
    let url: string;
    let adminUrl: string | null = null;
    let healthUrl: string | null;
    let metricsUrl: string | null;
    try {
      url = await listenOn(server, overrides.listen ?? serverConfig.listen ?? CONFIG_DEFAULTS.listen, 'server.listen');
      const adminAddress = overrides.admin ?? serverConfig.admin ?? CONFIG_DEFAULTS.admin;
      if (adminAddress !== false) {
        this.admin = createServer(adminHandler(this));
        adminUrl = await listenOn(this.admin, adminAddress, 'server.admin');
      }
      healthUrl = await this.listenSide(overrides.health ?? serverConfig.health, HEALTH_PATHS, 'server.health');
      metricsUrl = await this.listenSide(overrides.metrics ?? serverConfig.metrics, METRICS_PATHS, 'server.metrics');
    } catch (err) {
      // All or nothing: a gateway serving traffic without its admin or probe listener
      // would look alive to no one. The listeners already bound are closed again.
      await this.closeListeners();
      throw err;
    }
    this.logger.info(
      { url, admin: adminUrl, health: healthUrl ?? undefined, metrics: metricsUrl ?? undefined, config: this.live.loaded.source, version: this.live.version },
      'sidegate listening',
    );
    return { url, adminUrl, healthUrl, metricsUrl };
  }

  /** A listener that serves only some admin paths (probes for the kubelet, /metrics for Prometheus). */
  private async listenSide(address: string | false | undefined, paths: ReadonlySet<string>, role: string): Promise<string | null> {
    if (address === undefined || address === false) return null;
    const server = createServer(adminHandler(this, paths));
    this.side.push(server);
    return listenOn(server, address, role);
  }

  /** Closes every listener `listen` opened (after a failed listen), so that it may be called again. */
  private async closeListeners(): Promise<void> {
    const servers = [this.server, this.admin, ...this.side].filter((s): s is Server => s !== null);
    this.server = null;
    this.admin = null;
    this.side = [];
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => (s.listening ? s.close(() => resolve()) : resolve()))));
  }

  /** Resolves once no request is in flight (or at once if none is). */
  private idle(): Promise<void> {
    if (this.inflight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Graceful shutdown: /readyz turns 503, new connections are refused, in-flight
   * requests and streams get up to `drainMs` (default `server.drain`) to finish, then
   * what is left is cut, pools and watchers close. Safe to call more than once.
   */
  close(options: { drainMs?: number } = {}): Promise<void> {
    this.closed ??= this.shutdown(options.drainMs ?? parseDuration(this.live.loaded.config.server?.drain ?? CONFIG_DEFAULTS.drain));
    return this.closed;
  }

  private async shutdown(drainMs: number): Promise<void> {
    this.isDraining = true;
    this.logger.info({ in_flight: this.inflight, drain_ms: drainMs }, 'draining');
    await this.watcher?.close();
    await this.keysWatcher?.watcher.close();
    this.keysWatcher = null;
    await Promise.all([...this.hookWatchers.values()].map((w) => w.close()));
    this.hookWatchers.clear();
    const server = this.server;
    const serverClosed = server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
    server?.closeIdleConnections();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      this.idle().then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), drainMs);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      this.logger.warn({ in_flight: this.inflight }, 'drain time is over; closing the remaining connections');
      await this.cutInFlight();
    }
    server?.closeAllConnections();
    for (const socket of this.upgraded) socket.destroy();
    await serverClosed;
    await closePipeline(this.live);
    await this.store.close();
    await this.loader.close();
    await Promise.all([this.webhooks?.close(WEBHOOK_GRACE_MS), this.telemetry?.close()]);
    for (const listener of [this.admin, ...this.side]) {
      if (!listener) continue;
      listener.closeAllConnections();
      await new Promise<void>((resolve) => listener.close(() => resolve()));
    }
    this.logger.info('closed');
    this.emit('close');
  }

  /**
   * Ends every request still in flight with a 503 `unavailable` (a stream with a final SSE
   * `error` event), then waits a moment for those last bytes to be written.
   */
  private async cutInFlight(): Promise<void> {
    const cut = new GatewayError('unavailable', 'The gateway is shutting down: the drain time (server.drain) is over.');
    for (const ctx of this.active.list()) ctx.abort.abort(cut);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.idle(), new Promise<void>((resolve) => (timer = setTimeout(resolve, CUT_GRACE_MS)))]);
    clearTimeout(timer);
  }

  /** The /stats document: config version and hash, uptime, requests in flight, per router. */
  stats(): Record<string, unknown> {
    return runSteps(this.statsSteps());
  }

  /**
   * `stats()` in steps of a few hundred routers (the admin listener renders it in slices):
   * what the document says of the gateway is read first, then each router of that pipeline
   * (unless `routers` is false: a poller waiting on a reload of 10,000 routers needs none).
   */
  *statsSteps(options: { routers?: boolean } = {}): Steps<Record<string, unknown>> {
    const pipeline = this.live;
    const document: Record<string, unknown> = {
      service: 'sidegate',
      config: {
        version: pipeline.version,
        hash: pipeline.loaded.hash,
        source: pipeline.loaded.source,
        loaded_at: pipeline.compiledAt.toISOString(),
        compile_ms: Math.round(pipeline.compileMs * 100) / 100,
        reloads: { ...this.reloadCounts },
        last_reload_error: this.lastReloadError,
      },
      uptime_seconds: Math.round((Date.now() - this.startedAt) / 1000),
      in_flight: this.inflight,
      draining: this.isDraining,
      state: this.store.health(),
      ...(pipeline.tenancy ? { tenancy: pipeline.tenancy.stats() } : {}),
    };
    if (options.routers === false) return document;
    const routers: Record<string, unknown> = {};
    document.routers = routers;
    let count = 0;
    for (const [name, router] of pipeline.routers) {
      if (++count % STATS_ROUTERS_PER_STEP === 0) yield;
      const counts = this.metrics.routerCounts.get(name);
      // Built field by field: an object spread costs more than all the rest with 10,000 routers.
      const entry: Record<string, unknown> = { requests: counts?.requests ?? 0, errors: counts?.errors ?? 0, targets: targetNames(router) };
      const strategy = router.strategy.stats?.();
      if (strategy) entry.strategy = strategy;
      for (const stage of router.stages) if (stage.stats) entry[stage.name] = stage.stats();
      routers[name] = entry;
    }
    return document;
  }

  /** GET /keys: each key's name, team, state and spend; null when the config has no tenancy. */
  async keys(): Promise<Record<string, unknown> | null> {
    return this.live.tenancy ? this.live.tenancy.report() : null;
  }

  /** Whether an admin request's `Authorization` carries `server.admin_token` (always, when none is set). */
  adminAuthorized(authorization: string | undefined): boolean {
    return tokenMatches(this.live.adminToken, authorization);
  }

  /** The /readyz detail: ready unless draining; a Redis outage is reported, never fatal. */
  readiness(): { ready: boolean; detail: Record<string, unknown> } {
    if (this.isDraining) return { ready: false, detail: { status: 'draining' } };
    return { ready: true, detail: { status: 'ready', state: this.store.health() } };
  }

  /** Forgets the semantic memory a scope value names, in every router that keeps one (or in `router`). */
  async forgetMemory(scope: string, router?: string): Promise<{ scope: string; routers: string[]; removed: number } | null> {
    const pipeline = this.pipeline;
    if (router !== undefined && !pipeline.routers.has(router)) return null;
    const routers: string[] = [];
    let removed = 0;
    for (const r of pipeline.routers.values()) {
      if (router !== undefined && r.name !== router) continue;
      const memory = memoryStageOf(r.stages);
      if (!memory) continue;
      routers.push(r.name);
      removed += await memory.forget(scope);
    }
    return { scope, routers, removed };
  }

  /**
   * Empties the response cache of one router (null when no such router), or of every
   * router; resolves with the number of entries removed.
   */
  async clearCache(router?: string): Promise<{ router: string | null; removed: number } | null> {
    if (router !== undefined && !this.live.routers.has(router)) return null;
    return { router: router ?? null, removed: await this.store.clearCache(router) };
  }

  redactedConfig(): unknown {
    return this.live.loaded.redacted;
  }

  async metricsText(): Promise<{ contentType: string; body: string }> {
    return this.metrics.text();
  }
}

/**
 * Builds a gateway from a config file path, inline YAML (`{ yaml }`) or a config object:
 * loads and validates it, imports the modules of the features, interceptors and providers
 * it uses (only those) and compiles it. Rejects with a ConfigError for an invalid config.
 */
export function createGateway(source: ConfigSource, options?: GatewayOptions): Promise<Gateway> {
  return Gateway.create(source, options);
}
