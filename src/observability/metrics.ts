import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
const OVERHEAD_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025];

/**
 * Metric children for one router: label lookups happen when the router is compiled, not
 * per request (prom-client's `labels()` hashes its arguments on every call).
 */
/** Plain per-router counts for /stats; they live across reloads, like the metrics. */
export interface RouterCounts {
  requests: number;
  /** Answers with a 5xx status, and requests the client abandoned (499). */
  errors: number;
}

export class RouterMetrics {
  private readonly byStatus = new Map<string, ReturnType<Counter["labels"]>>();
  private readonly byUpstream = new Map<string, { duration: ReturnType<Histogram["labels"]>; ttfb: ReturnType<Histogram["labels"]> }>();
  private readonly overhead: ReturnType<Histogram['labels']>;
  private readonly tries = new Map<string, ReturnType<Counter['labels']>>();
  private readonly tryDurations = new Map<string, ReturnType<Histogram['labels']>>();

  constructor(
    private readonly metrics: Metrics,
    readonly router: string,
    private readonly counts: RouterCounts,
  ) {
    this.overhead = metrics.overhead.labels(router);
  }

  /** Counts one finished request; children are cached per upstream and status. */
  request(upstream: string, status: number, seconds: number, ttfbSeconds: number, overheadSeconds: number): void {
    const key = `${upstream}\0${status}`;
    let counter = this.byStatus.get(key);
    if (!counter) {
      counter = this.metrics.requests.labels(this.router, upstream, String(status));
      this.byStatus.set(key, counter);
    }
    counter.inc();
    let children = this.byUpstream.get(upstream);
    if (!children) {
      children = { duration: this.metrics.duration.labels(this.router, upstream), ttfb: this.metrics.ttfb.labels(this.router, upstream) };
      this.byUpstream.set(upstream, children);
    }
    children.duration.observe(seconds);
    if (ttfbSeconds >= 0) children.ttfb.observe(ttfbSeconds);
    if (overheadSeconds >= 0) this.overhead.observe(overheadSeconds);
    this.counts.requests++;
    if (status >= 500 || status === 499) this.counts.errors++;
  }

  /** One upstream try: its outcome (`200`, `503`, `connect_error`, …) and time to headers. */
  attempt(upstream: string, outcome: string, seconds: number): void {
    const key = `${upstream}\0${outcome}`;
    let counter = this.tries.get(key);
    if (!counter) {
      counter = this.metrics.attempts.labels(this.router, upstream, outcome);
      this.tries.set(key, counter);
    }
    counter.inc();
    let histogram = this.tryDurations.get(upstream);
    if (!histogram) {
      histogram = this.metrics.upstreamDuration.labels(this.router, upstream);
      this.tryDurations.set(upstream, histogram);
    }
    histogram.observe(seconds);
  }

  tokens(upstream: string, model: string, prompt: number, completion: number): void {
    if (prompt > 0) this.metrics.tokens.labels(this.router, upstream, model, 'prompt').inc(prompt);
    if (completion > 0) this.metrics.tokens.labels(this.router, upstream, model, 'completion').inc(completion);
  }
}

/**
 * Every Prometheus metric of one gateway instance, in its own registry (so two gateways
 * in one process, as in tests or an embedding app, never collide). Lives across reloads.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'ai_gateway_requests_total',
    help: 'Requests answered, by router, upstream and HTTP status.',
    labelNames: ['router', 'upstream', 'status'],
    registers: [this.registry],
  });
  readonly duration = new Histogram({
    name: 'ai_gateway_duration_seconds',
    help: 'Time from request arrival to the end of the response.',
    labelNames: ['router', 'upstream'],
    buckets: DURATION_BUCKETS,
    registers: [this.registry],
  });
  readonly ttfb = new Histogram({
    name: 'ai_gateway_time_to_first_byte_seconds',
    help: 'Time from request arrival to the first response byte sent to the client.',
    labelNames: ['router', 'upstream'],
    buckets: DURATION_BUCKETS,
    registers: [this.registry],
  });
  readonly overhead = new Histogram({
    name: 'ai_gateway_overhead_seconds',
    help: "The gateway's own time per request: time to response headers minus time spent waiting on the upstream.",
    labelNames: ['router'],
    buckets: OVERHEAD_BUCKETS,
    registers: [this.registry],
  });
  readonly tokens = new Counter({
    name: 'ai_gateway_tokens_total',
    help: 'Tokens reported by upstreams in `usage`, by kind (prompt or completion).',
    labelNames: ['router', 'upstream', 'model', 'kind'],
    registers: [this.registry],
  });
  readonly attempts = new Counter({
    name: 'ai_gateway_upstream_attempts_total',
    help: 'Upstream tries (first tries, retries, fallbacks, hedges), by target and outcome (status, or the failure).',
    labelNames: ['router', 'upstream', 'outcome'],
    registers: [this.registry],
  });
  readonly upstreamDuration = new Histogram({
    name: 'ai_gateway_upstream_duration_seconds',
    help: 'Time each upstream try took to answer with headers (or to fail), by target.',
    labelNames: ['router', 'upstream'],
    buckets: DURATION_BUCKETS,
    registers: [this.registry],
  });
  readonly inFlight = new Gauge({
    name: 'ai_gateway_requests_in_flight',
    help: 'Requests being handled now.',
    registers: [this.registry],
  });
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

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /**
   * A feature's own metric, created on first use and shared afterwards: features are
   * built again on every reload, metrics must not be (the registry refuses duplicates).
   */
  counter(name: string, help: string, labelNames: readonly string[]): Counter {
    return (this.registry.getSingleMetric(name) as Counter | undefined) ?? new Counter({ name, help, labelNames, registers: [this.registry] });
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
