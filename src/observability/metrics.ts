import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { CounterChild, HistogramChild, LocalCounter, LocalGauge, LocalHistogram } from './local-metrics.js';

const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
const OVERHEAD_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025];

/** Plain per-router counts for /stats; they live across reloads, like the metrics. */
export interface RouterCounts {
  requests: number;
  /** Answers with a 5xx status, and requests the client abandoned (499). */
  errors: number;
}

/** `map.get(key)`, or what `make()` returns, stored under `key` first. */
function cached<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let value = map.get(key);
  if (value === undefined) map.set(key, (value = make()));
  return value;
}

interface UpstreamChildren {
  readonly duration: HistogramChild;
  readonly ttfb: HistogramChild;
  readonly tryDuration: HistogramChild;
  readonly byStatus: Map<number, CounterChild>;
  readonly byOutcome: Map<string, CounterChild>;
  readonly tokens: Map<string, { prompt: CounterChild; completion: CounterChild; cached: CounterChild }>;
}

/**
 * The metric children of one router, looked up once per upstream, status or outcome
 * and kept: the request path only adds numbers.
 */
export class RouterMetrics {
  private readonly upstreams = new Map<string, UpstreamChildren>();
  private readonly overhead: HistogramChild;

  constructor(
    private readonly metrics: Metrics,
    readonly router: string,
    private readonly counts: RouterCounts,
  ) {
    this.overhead = metrics.overhead.child(router);
  }

  private of(upstream: string): UpstreamChildren {
    return cached(this.upstreams, upstream, () => ({
      duration: this.metrics.duration.child(this.router, upstream),
      ttfb: this.metrics.ttfb.child(this.router, upstream),
      tryDuration: this.metrics.upstreamDuration.child(this.router, upstream),
      byStatus: new Map(),
      byOutcome: new Map(),
      tokens: new Map(),
    }));
  }

  /** Counts one finished request. */
  request(upstream: string, status: number, seconds: number, ttfbSeconds: number, overheadSeconds: number): void {
    const children = this.of(upstream);
    cached(children.byStatus, status, () => this.metrics.requests.child(this.router, upstream, String(status))).inc();
    children.duration.observe(seconds);
    if (ttfbSeconds >= 0) children.ttfb.observe(ttfbSeconds);
    if (overheadSeconds >= 0) this.overhead.observe(overheadSeconds);
    this.counts.requests++;
    if (status >= 500 || status === 499) this.counts.errors++;
  }

  /** One upstream try: its outcome (`200`, `503`, `connect_error`, …) and time to headers. */
  attempt(upstream: string, outcome: string, seconds: number): void {
    const children = this.of(upstream);
    cached(children.byOutcome, outcome, () => this.metrics.attempts.child(this.router, upstream, outcome)).inc();
    children.tryDuration.observe(seconds);
  }

  /** Tokens of one answer; `cachedPrompt` of the prompt tokens were read from the provider's prompt cache. */
  tokens(upstream: string, model: string, prompt: number, completion: number, cachedPrompt = 0): void {
    const kinds = cached(this.of(upstream).tokens, model, () => ({
      prompt: this.metrics.tokens.child(this.router, upstream, model, 'prompt'),
      completion: this.metrics.tokens.child(this.router, upstream, model, 'completion'),
      cached: this.metrics.tokens.child(this.router, upstream, model, 'cached_prompt'),
    }));
    if (prompt > 0) kinds.prompt.inc(prompt);
    if (completion > 0) kinds.completion.inc(completion);
    if (cachedPrompt > 0) kinds.cached.inc(cachedPrompt);
  }
}

/**
 * Node's process metrics (CPU, memory, event loop lag…), collected once per process: they
 * describe the process, not a gateway, and collecting them starts monitors that run for
 * as long as the process does.
 */
let processRegistry: Registry | null = null;
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/**
 * Every Prometheus metric of one gateway instance, in its own registry (so two gateways
 * in one process, as in tests or an embedding app, never collide). Lives across reloads.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly requests = new LocalCounter(this.registry, 'ai_gateway_requests_total', 'Requests answered, by router, upstream and HTTP status.', [
    'router',
    'upstream',
    'status',
  ]);
  readonly duration = new LocalHistogram(
    this.registry,
    'ai_gateway_duration_seconds',
    'Time from request arrival to the end of the response.',
    ['router', 'upstream'],
    DURATION_BUCKETS,
  );
  readonly ttfb = new LocalHistogram(
    this.registry,
    'ai_gateway_time_to_first_byte_seconds',
    'Time from request arrival to the first response byte sent to the client.',
    ['router', 'upstream'],
    DURATION_BUCKETS,
  );
  readonly overhead = new LocalHistogram(
    this.registry,
    'ai_gateway_overhead_seconds',
    "The gateway's own time per request: time to response headers minus time spent waiting on the upstream.",
    ['router'],
    OVERHEAD_BUCKETS,
  );
  readonly tokens = new LocalCounter(this.registry, 'ai_gateway_tokens_total', 'Tokens reported by upstreams in `usage`, by kind (prompt, completion, or cached_prompt: the prompt tokens read from the provider\'s prompt cache, also counted in prompt).', [
    'router',
    'upstream',
    'model',
    'kind',
  ]);
  readonly attempts = new LocalCounter(
    this.registry,
    'ai_gateway_upstream_attempts_total',
    'Upstream tries (first tries, retries, fallbacks, hedges), by target and outcome (status, or the failure).',
    ['router', 'upstream', 'outcome'],
  );
  readonly upstreamDuration = new LocalHistogram(
    this.registry,
    'ai_gateway_upstream_duration_seconds',
    'Time each upstream try took to answer with headers (or to fail), by target.',
    ['router', 'upstream'],
    DURATION_BUCKETS,
  );
  readonly reloads = new Counter({
    name: 'ai_gateway_config_reloads_total',
    help: 'Config reloads by result (success, error, unchanged).',
    labelNames: ['result'],
    registers: [this.registry],
  });
  readonly configInfo = new Gauge({
    name: 'ai_gateway_config_info',
    help: 'The active config version (the value is always 1).',
    labelNames: ['version'],
    registers: [this.registry],
  });

  /** `inFlight` tells how many requests are being handled; it is read when /metrics is scraped. */
  constructor(inFlight: () => number = () => 0) {
    new Gauge({
      name: 'ai_gateway_requests_in_flight',
      help: 'Requests being handled now.',
      registers: [this.registry],
      collect() {
        this.set(inFlight());
      },
    });
  }

  /**
   * A feature's own metric, created on first use and shared afterwards: features are
   * built again on every reload, metrics must not be (the registry refuses duplicates).
   */
  counter(name: string, help: string, labelNames: readonly string[]): Counter {
    return (this.registry.getSingleMetric(name) as Counter | undefined) ?? new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  /** Like `counter`, for counts taken on every request: plain numbers, read at scrape time. */
  localCounter(name: string, help: string, labelNames: readonly string[]): LocalCounter {
    return (this.registry.getSingleMetric(name) as LocalCounter | undefined) ?? new LocalCounter(this.registry, name, help, labelNames);
  }

  /** Like `gauge`, for values set on every request: plain numbers, read at scrape time. */
  localGauge(name: string, help: string, labelNames: readonly string[]): LocalGauge {
    return (this.registry.getSingleMetric(name) as LocalGauge | undefined) ?? new LocalGauge(this.registry, name, help, labelNames);
  }

  gauge(name: string, help: string, labelNames: readonly string[]): Gauge {
    return (this.registry.getSingleMetric(name) as Gauge | undefined) ?? new Gauge({ name, help, labelNames, registers: [this.registry] });
  }

  histogram(name: string, help: string, labelNames: readonly string[], buckets: number[] = DURATION_BUCKETS): Histogram {
    return (
      (this.registry.getSingleMetric(name) as Histogram | undefined) ??
      new Histogram({ name, help, labelNames, buckets, registers: [this.registry] })
    );
  }

  /** The Prometheus text of this gateway's metrics and the process's. */
  async text(): Promise<{ contentType: string; body: string }> {
    const merged = Registry.merge([processMetrics(), this.registry]);
    return { contentType: merged.contentType, body: await merged.metrics() };
  }

  /** Per-router counts by router name, for /stats. */
  readonly routerCounts = new Map<string, RouterCounts>();

  forRouter(name: string): RouterMetrics {
    let counts = this.routerCounts.get(name);
    if (!counts) {
      counts = { requests: 0, errors: 0 };
      this.routerCounts.set(name, counts);
    }
    return new RouterMetrics(this, name, counts);
  }

  setConfigVersion(version: string): void {
    this.configInfo.reset();
    this.configInfo.labels(version).set(1);
  }
}
