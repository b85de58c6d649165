/**
 * OpenTelemetry, opt-in. Without `telemetry:` in the config nothing here runs and no
 * @opentelemetry package is even loaded: they are required on first use, when a config
 * that sets `telemetry` is compiled (type imports below are erased).
 *
 * What is recorded (the OpenTelemetry GenAI semantic conventions, plus `sidegate.*`):
 * - a SERVER span per request, continuing the caller's `traceparent`, named
 *   `{gen_ai.operation.name} {gen_ai.request.model}`;
 * - a CLIENT child span per upstream try, whose context is the `traceparent` sent upstream;
 * - the histograms `gen_ai.client.token.usage` ({token}) and `gen_ai.client.operation.duration` (s).
 * Spans are batched and exported over OTLP/HTTP (protobuf or JSON), metrics periodically
 * and at shutdown. The gateway owns one Telemetry per `telemetry` section; it outlives
 * reloads that leave the section unchanged.
 */
import { createRequire } from 'node:module';
import type * as OtelApi from '@opentelemetry/api';
import type * as OtelCore from '@opentelemetry/core';
import type * as OtelResources from '@opentelemetry/resources';
import type * as OtelTrace from '@opentelemetry/sdk-trace';
import type * as OtelMetrics from '@opentelemetry/sdk-metrics';
import type { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import type { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import type { TelemetryConfig, UpstreamConfig } from '../config/types.js';
import { CONFIG_DEFAULTS } from '../config/defaults.js';
import { parseDuration } from '../util/units.js';

const requireModule = createRequire(import.meta.url);

/** Bucket boundaries the GenAI conventions give for their two client metrics. */
const TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];
const DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];

/** `gen_ai.provider.name` of each `provider:` kind (well-known values where one exists). */
const PROVIDER_NAMES: Record<string, string> = {
  openai: 'openai',
  anthropic: 'anthropic',
  azure_openai: 'azure.ai.openai',
  openai_compatible: 'openai_compatible',
  mock: 'sidegate.mock',
};

/** `gen_ai.operation.name` by endpoint; other paths get no GenAI operation. */
export function operationOf(path: string): string | null {
  if (path.startsWith('/v1/chat/completions') || path.startsWith('/v1/responses') || path.startsWith('/v1/messages')) return 'chat';
  if (path.startsWith('/v1/completions')) return 'text_completion';
  if (path.startsWith('/v1/embeddings')) return 'embeddings';
  return null;
}

interface Modules {
  api: typeof OtelApi;
  core: typeof OtelCore;
  resources: typeof OtelResources;
  trace: typeof OtelTrace;
  metrics: typeof OtelMetrics;
  TraceExporter: typeof OTLPTraceExporter;
  MetricExporter: typeof OTLPMetricExporter;
}

function load(protocol: string): Modules {
  const json = protocol === 'http/json';
  return {
    api: requireModule('@opentelemetry/api') as typeof OtelApi,
    core: requireModule('@opentelemetry/core') as typeof OtelCore,
    resources: requireModule('@opentelemetry/resources') as typeof OtelResources,
    trace: requireModule('@opentelemetry/sdk-trace') as typeof OtelTrace,
    metrics: requireModule('@opentelemetry/sdk-metrics') as typeof OtelMetrics,
    TraceExporter: (requireModule(json ? '@opentelemetry/exporter-trace-otlp-http' : '@opentelemetry/exporter-trace-otlp-proto') as { OTLPTraceExporter: typeof OTLPTraceExporter }).OTLPTraceExporter,
    MetricExporter: (requireModule(json ? '@opentelemetry/exporter-metrics-otlp-http' : '@opentelemetry/exporter-metrics-otlp-proto') as { OTLPMetricExporter: typeof OTLPMetricExporter }).OTLPMetricExporter,
  };
}

/** Same section, same Telemetry: reloads that leave `telemetry` alone keep the exporters. */
export function telemetryIdentity(config: TelemetryConfig | undefined): string | null {
  return config ? JSON.stringify(config) : null;
}

function checkRange(what: string, text: string, minMs: number, maxMs: number, range: string): number {
  const ms = parseDuration(text);
  if (ms < minMs || ms > maxMs) throw new Error(`telemetry.${what}: ${text} is outside ${range}`);
  return ms;
}

function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}${path}`;
}

/** The exporters, providers and instruments of one `telemetry` section. */
export class Telemetry {
  readonly api: typeof OtelApi;
  private readonly core: typeof OtelCore;
  private readonly tracerProvider: OtelTrace.TracerProvider;
  private readonly meterProvider: OtelMetrics.MeterProvider;
  readonly tracer: OtelApi.Tracer;
  readonly tokenUsage: OtelApi.Histogram;
  readonly duration: OtelApi.Histogram;

  constructor(config: TelemetryConfig) {
    const version = (requireModule('../../package.json') as { version: string }).version; // src/ and dist/ sit beside it
    const protocol = config.otlp.protocol ?? CONFIG_DEFAULTS.otlp_protocol;
    const timeoutMillis = checkRange('otlp.timeout', config.otlp.timeout ?? CONFIG_DEFAULTS.otlp_timeout, 100, 60_000, '100ms to 60s');
    const intervalMs = checkRange('metrics_interval', config.metrics_interval ?? CONFIG_DEFAULTS.metrics_interval, 1000, 3_600_000, '1s to 1h');
    const m = load(protocol);
    this.api = m.api;
    this.core = m.core;
    const resource = m.resources.resourceFromAttributes({
      'service.name': config.service_name ?? CONFIG_DEFAULTS.service_name,
      'service.version': version,
    });
    const headers = { ...config.otlp.headers };
    const sample = config.sample ?? CONFIG_DEFAULTS.trace_sample;
    this.tracerProvider = new m.trace.TracerProvider({
      resource,
      sampler: new m.trace.ParentBasedSampler({ root: new m.trace.TraceIdRatioBasedSampler(sample) }),
      spanProcessors: [
        new m.trace.BatchSpanProcessor({
          exporter: new m.TraceExporter({ url: joinUrl(config.otlp.url, '/v1/traces'), headers, timeoutMillis }),
          maxQueueSize: 4096,
          maxExportBatchSize: 512,
          scheduledDelayMillis: 1000,
        }),
      ],
    });
    this.meterProvider = new m.metrics.MeterProvider({
      resource,
      readers: [
        new m.metrics.PeriodicExportingMetricReader({
          exporter: new m.MetricExporter({ url: joinUrl(config.otlp.url, '/v1/metrics'), headers, timeoutMillis }),
          exportIntervalMillis: intervalMs,
          exportTimeoutMillis: Math.min(timeoutMillis, intervalMs),
        }),
      ],
    });
    this.tracer = this.tracerProvider.getTracer('sidegate', version);
    const meter = this.meterProvider.getMeter('sidegate', version);
    this.tokenUsage = meter.createHistogram('gen_ai.client.token.usage', {
      unit: '{token}',
      description: 'Number of input and output tokens used, per request.',
      advice: { explicitBucketBoundaries: TOKEN_BUCKETS },
    });
    this.duration = meter.createHistogram('gen_ai.client.operation.duration', {
      unit: 's',
      description: 'Duration of each GenAI request through the gateway, retries and fallbacks included.',
      advice: { explicitBucketBoundaries: DURATION_BUCKETS },
    });
  }

  /** What one compiled config needs: the static attributes of each upstream. */
  forPipeline(upstreams: Readonly<Record<string, UpstreamConfig>>): PipelineTelemetry {
    const byName = new Map<string, UpstreamAttributes>();
    for (const [name, config] of Object.entries(upstreams)) {
      const attributes: UpstreamAttributes = { 'gen_ai.provider.name': PROVIDER_NAMES[config.provider] ?? config.provider, 'sidegate.upstream': name };
      if (config.url) {
        const url = new URL(config.url);
        attributes['server.address'] = url.hostname;
        attributes['server.port'] = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
      }
      byName.set(name, Object.freeze(attributes));
    }
    return new PipelineTelemetry(this, byName);
  }

  /** The caller's trace context from its `traceparent`/`tracestate`, or the root context. */
  parentContext(traceparent: string | undefined, tracestate: string | undefined): OtelApi.Context {
    const root = this.api.ROOT_CONTEXT;
    if (typeof traceparent !== 'string') return root;
    const parent = this.core.parseTraceParent(traceparent);
    if (!parent) return root;
    parent.isRemote = true;
    if (typeof tracestate === 'string') parent.traceState = new this.core.TraceState(tracestate);
    return this.api.trace.setSpanContext(root, parent);
  }

  /** Exports what is buffered and stops the exporters. */
  async close(): Promise<void> {
    await Promise.allSettled([this.tracerProvider.shutdown(), this.meterProvider.shutdown()]);
  }
}

type UpstreamAttributes = Record<string, string | number>;

/** A pipeline's view of the telemetry: the Telemetry plus its upstreams' attributes. */
export class PipelineTelemetry {
  constructor(
    readonly telemetry: Telemetry,
    private readonly upstreams: ReadonlyMap<string, UpstreamAttributes>,
  ) {}

  /** Starts the span of one request (named and completed at its end). */
  startRequest(method: string, traceparent: string | undefined, tracestate: string | undefined): RequestSpan {
    const t = this.telemetry;
    const parent = t.parentContext(traceparent, tracestate);
    const span = t.tracer.startSpan(method, { kind: t.api.SpanKind.SERVER, attributes: { 'http.request.method': method } }, parent);
    return new RequestSpan(this, method, span, t.api.trace.setSpan(parent, span));
  }

  upstream(name: string): UpstreamAttributes | undefined {
    return this.upstreams.get(name);
  }
}

/** One upstream try's span and the `traceparent` that names it upstream. */
export interface TrySpan {
  readonly span: OtelApi.Span;
  readonly traceparent: string;
}

/** How a request ended, for its span and the GenAI metrics. */
export interface RequestSummary {
  path: string;
  status: number;
  durationMs: number;
  requestModel: string | undefined;
  router: string | null;
  upstream: string | null;
  attempts: number;
  stream: boolean;
  inputTokens: number;
  outputTokens: number;
  cache: string | null;
  error: string | null;
}

const RESPONSE_MODEL = /"model"\s*:\s*"([^"\\]{1,256})"/g;
const FINISH_REASON = /"(?:finish_reason|stop_reason)"\s*:\s*"([A-Za-z0-9_.-]{1,64})"/g;
const RESPONSE_ID = /"id"\s*:\s*"((?:chatcmpl|cmpl|resp|msg)[-_][^"\\]{1,128})"/;
const MAX_FINISH_REASONS = 16;

function hex2(flags: number): string {
  return flags < 16 ? `0${flags.toString(16)}` : flags.toString(16);
}

/** The span of one request, and the tries below it. Only exists when telemetry is on. */
export class RequestSpan {
  readonly traceId: string;
  /** The try whose answer is being forwarded; ended with the request. */
  private answering: OtelApi.Span | null = null;
  private responseModel: string | null = null;
  private responseId: string | null = null;
  private finishReasons: string[] | null = null;
  private annotations: Record<string, string | number | boolean> | null = null;

  constructor(
    private readonly owner: PipelineTelemetry,
    private readonly method: string,
    private readonly span: OtelApi.Span,
    private readonly context: OtelApi.Context,
  ) {
    this.traceId = span.spanContext().traceId;
  }

  /** Starts a CLIENT span for one try of `upstream` with `model`. */
  startTry(upstream: string, model: string | undefined, path: string, tryNumber: number): TrySpan {
    const t = this.owner.telemetry;
    const operation = operationOf(path);
    const attributes: Record<string, string | number> = { ...this.owner.upstream(upstream), 'sidegate.try': tryNumber };
    if (operation) attributes['gen_ai.operation.name'] = operation;
    if (model) attributes['gen_ai.request.model'] = model;
    const name = operation ? `${operation}${model ? ` ${model}` : ''}` : `${upstream} ${path.split('?', 1)[0]}`;
    const span = t.tracer.startSpan(name, { kind: t.api.SpanKind.CLIENT, attributes }, this.context);
    const sc = span.spanContext();
    return { span, traceparent: `00-${sc.traceId}-${sc.spanId}-${hex2(sc.traceFlags)}` };
  }

  /** The try got response headers; its span stays open while that answer is forwarded. */
  tryAnswered(attempt: TrySpan, status: number): void {
    attempt.span.setAttribute('http.response.status_code', status);
    if (status >= 500) {
      attempt.span.setAttribute('error.type', String(status));
      attempt.span.setStatus({ code: this.owner.telemetry.api.SpanStatusCode.ERROR });
    }
    this.answering?.end(); // an earlier answer was dropped for this one (retry, hedging)
    this.answering = attempt.span;
  }

  /** The try failed without an answer (`connect_error`, `timeout`, `aborted`…). */
  tryFailed(attempt: TrySpan, kind: string): void {
    attempt.span.setAttribute('error.type', kind);
    attempt.span.setStatus({ code: this.owner.telemetry.api.SpanStatusCode.ERROR, message: kind });
    attempt.span.end();
  }

  /** Response model, id and finish reasons from the tail of the answer (where usage is read too). */
  readTail(text: string): void {
    let model: string | null = null;
    RESPONSE_MODEL.lastIndex = 0;
    for (let m = RESPONSE_MODEL.exec(text); m; m = RESPONSE_MODEL.exec(text)) model = m[1]!;
    if (model !== null) this.responseModel = model;
    const id = RESPONSE_ID.exec(text);
    if (id) this.responseId = id[1]!;
    const reasons = new Set<string>();
    FINISH_REASON.lastIndex = 0;
    for (let m = FINISH_REASON.exec(text); m && reasons.size < MAX_FINISH_REASONS; m = FINISH_REASON.exec(text)) reasons.add(m[1]!);
    if (reasons.size > 0) this.finishReasons = [...reasons];
  }

  /**
   * An attribute from a stage (e.g. an interceptor's action: `sidegate.interceptor.pii_detector`
   * = `redact`). Keys should start with `sidegate.`.
   */
  annotate(key: string, value: string | number | boolean): void {
    (this.annotations ??= {})[key] = value;
  }

  /** Completes the request's span (and the answering try's), and records the GenAI metrics. */
  end(s: RequestSummary): void {
    const t = this.owner.telemetry;
    const span = this.span;
    const operation = operationOf(s.path);
    const upstream = s.upstream === null ? undefined : this.owner.upstream(s.upstream);
    const genai: Record<string, string | number> = {};
    if (operation) genai['gen_ai.operation.name'] = operation;
    if (upstream) genai['gen_ai.provider.name'] = upstream['gen_ai.provider.name']!;
    if (s.requestModel) genai['gen_ai.request.model'] = s.requestModel;
    if (this.responseModel) genai['gen_ai.response.model'] = this.responseModel;
    if (upstream?.['server.address'] !== undefined) genai['server.address'] = upstream['server.address'];
    const attributes: Record<string, string | number | boolean | string[]> = {
      ...genai,
      'url.path': s.path.split('?', 1)[0]!,
      'http.response.status_code': s.status,
      'sidegate.attempts': s.attempts,
      'sidegate.stream': s.stream,
    };
    if (s.router !== null) attributes['sidegate.router'] = s.router;
    if (s.upstream !== null) attributes['sidegate.target'] = s.upstream;
    if (s.cache !== null) attributes['sidegate.cache'] = s.cache;
    if (this.responseId) attributes['gen_ai.response.id'] = this.responseId;
    if (this.finishReasons) attributes['gen_ai.response.finish_reasons'] = this.finishReasons;
    if (s.inputTokens >= 0) attributes['gen_ai.usage.input_tokens'] = s.inputTokens;
    if (s.outputTokens >= 0) attributes['gen_ai.usage.output_tokens'] = s.outputTokens;
    if (this.annotations) Object.assign(attributes, this.annotations);
    const error = s.error ?? (s.status >= 500 ? String(s.status) : null);
    if (error !== null) {
      attributes['error.type'] = error;
      span.setStatus({ code: t.api.SpanStatusCode.ERROR, message: error });
    }
    span.setAttributes(attributes);
    if (operation) span.updateName(`${operation}${s.requestModel ? ` ${s.requestModel}` : ''}`);
    else span.updateName(`${this.method} ${attributes['url.path'] as string}`);
    if (this.answering) {
      if (s.inputTokens >= 0) this.answering.setAttribute('gen_ai.usage.input_tokens', s.inputTokens);
      if (s.outputTokens >= 0) this.answering.setAttribute('gen_ai.usage.output_tokens', s.outputTokens);
      if (this.responseModel) this.answering.setAttribute('gen_ai.response.model', this.responseModel);
      if (this.finishReasons) this.answering.setAttribute('gen_ai.response.finish_reasons', this.finishReasons);
      this.answering.end();
    }
    span.end();
    if (!operation) return;
    if (error !== null) genai['error.type'] = error;
    t.duration.record(s.durationMs / 1000, genai);
    if (s.inputTokens >= 0) t.tokenUsage.record(s.inputTokens, { ...genai, 'gen_ai.token.type': 'input' });
    if (s.outputTokens >= 0) t.tokenUsage.record(s.outputTokens, { ...genai, 'gen_ai.token.type': 'output' });
  }
}
