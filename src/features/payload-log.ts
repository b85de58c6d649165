import pino, { type Logger } from 'pino';
import { bounded } from '../config/ranges.js';
import type { FeatureModule } from './feature.js';
import { ORDER } from './feature.js';
import type { RequestContext } from '../pipeline/context.js';
import type { Stage } from '../pipeline/stage.js';
import { createLogger } from '../observability/logger.js';
import { buildPiiDetector, DEFAULT_PHONE_COUNTRY, PII_ENTITIES } from '../pii/patterns.js';
import type { Detector } from '../pipeline/detections.js';
import { applySpans } from '../pipeline/text-window.js';
import { parseSize } from '../util/units.js';

export interface PayloadLogConfig {
  sample?: number;
  max_bytes?: string;
  file?: string;
}

const DEFAULTS = { sample: 1, max_bytes: '16kb' } as const;
const MIN_BYTES = 256;
const MAX_BYTES = 1024 * 1024;
/** Read past the cap, so a card number or address cut at the cap is still recognized, then cut. */
const MARGIN = 256;

/** The bytes of one sampled exchange, up to the cap (+ margin). */
class Capture {
  readonly chunks: Buffer[] = [];
  size = 0;
  total = 0;
}

function keep(capture: Capture, chunk: Buffer, limit: number): void {
  capture.total += chunk.length;
  if (capture.size >= limit) return;
  const part = capture.size + chunk.length > limit ? chunk.subarray(0, limit - capture.size) : chunk;
  capture.chunks.push(part);
  capture.size += part.length;
}

/**
 * `payload_log`: for a `sample` of the router's requests, one JSON line with the request
 * body (as sent upstream) and the upstream's response body, each PII-redacted and cut at
 * `max_bytes`, written to stdout or to `file`. Unsampled requests cost one random number.
 */
class PayloadLogStage implements Stage {
  readonly name = 'payload_log';
  private readonly captures = new WeakMap<RequestContext, Capture>();
  private readonly cap: number;
  /** The pii_detector's patterns, every entity: what a logged body never shows. */
  private readonly pii: Detector;
  private readonly out: Logger;
  private readonly file: pino.DestinationStream & { flushSync(): void; end(): void } | null;

  constructor(
    private readonly config: PayloadLogConfig,
    private readonly router: string,
  ) {
    this.cap = parseSize(config.max_bytes ?? DEFAULTS.max_bytes);
    this.pii = buildPiiDetector(PII_ENTITIES, [], DEFAULT_PHONE_COUNTRY);
    if (this.cap < MIN_BYTES || this.cap > MAX_BYTES) throw new Error(`routers.${router}.features.payload_log.max_bytes: ${config.max_bytes} is outside 256b to 1mb`);
    if (config.file) {
      this.file = pino.destination({ dest: config.file, mkdir: true, sync: false, minLength: 4096 });
      this.out = pino({ base: { service: 'sidegate' }, formatters: { level: (label) => ({ level: label }) } }, this.file);
    } else {
      this.file = null;
      this.out = createLogger('info');
    }
  }

  onRequest(ctx: RequestContext): void {
    const sample = this.config.sample ?? DEFAULTS.sample;
    if (sample < 1 && Math.random() >= sample) return;
    this.captures.set(ctx, new Capture());
  }

  onData(ctx: RequestContext, chunk: Buffer): void {
    const capture = this.captures.get(ctx);
    if (capture) keep(capture, chunk, this.cap + MARGIN);
  }

  onDone(ctx: RequestContext): void {
    const capture = this.captures.get(ctx);
    if (!capture) return;
    this.captures.delete(ctx);
    const request = ctx.body === undefined ? null : ctx.bodyChanged ? Buffer.from(JSON.stringify(ctx.body)) : ctx.rawBody;
    this.out.info(
      {
        type: 'payload',
        request_id: ctx.id,
        router: this.router,
        upstream: ctx.target?.upstream.name ?? null,
        status: ctx.status,
        request: request === null ? null : this.text(request, request.length),
        request_bytes: request?.length ?? 0,
        response: capture.total === 0 ? null : this.text(capture.chunks.length === 1 ? capture.chunks[0]! : Buffer.concat(capture.chunks), capture.total),
        response_bytes: capture.total,
      },
      'payload',
    );
  }

  /** Redacted first (with the margin), then cut at the cap; a cut text ends with `…`. */
  private text(bytes: Buffer, total: number): string {
    const text = bytes.subarray(0, this.cap + MARGIN).toString('utf8');
    const redacted = applySpans(text, this.pii(text));
    return total > this.cap || redacted.length > this.cap ? `${redacted.slice(0, this.cap)}…` : redacted;
  }

  close(): void {
    if (!this.file) return;
    this.file.flushSync();
    this.file.end();
  }
}

export const payloadLog: FeatureModule<PayloadLogConfig> = {
  name: 'payload_log',
  order: ORDER.payload_log,
  describe: (c) =>
    `log ${Math.round((c.sample ?? DEFAULTS.sample) * 100)}% of request and response bodies, PII-redacted, up to ${c.max_bytes ?? DEFAULTS.max_bytes} each, to ${c.file ?? 'stdout'}`,
  schema: {
    description:
      'Logs a sample of this router\'s request and response bodies (the request as sent upstream, the upstream\'s answer; ' +
      'streams as their SSE text), one JSON line per request with `type: payload`. What the `pii_detector` interceptor finds ' +
      '(every entity: e-mail addresses, phone numbers, card numbers, IBANs, SSNs, IP addresses, secrets) is replaced by ' +
      '`[EMAIL]`, `[PHONE]`, … first; each body is cut at `max_bytes`.',
    type: 'object',
    additionalProperties: false,
    properties: {
      sample: { description: 'The share of requests logged, 0 to 1. Default `1` (every request).', type: 'number', minimum: 0, maximum: 1, default: DEFAULTS.sample },
      max_bytes: bounded('size', '256b', '1mb', 'The most of each body kept; longer bodies end with `…`. Default `16kb`.', { default: DEFAULTS.max_bytes }),
      file: {
        description: 'Append the lines to this file (created with its directory) instead of stdout, e.g. `/var/log/sidegate/payloads.jsonl`.',
        type: 'string',
        minLength: 1,
        maxLength: 4096,
      },
    },
  },
  create: (config, deps) => new PayloadLogStage(config, deps.routerName),
};
