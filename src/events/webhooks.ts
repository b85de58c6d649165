/**
 * `webhooks:`: every event POSTed to each subscribed URL, signed the Standard Webhooks
 * way (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256 of
 * "id.timestamp.body">`, keyed by the base64 part of a `whsec_` secret).
 *
 * Never on the request path: `emit` serializes the event once and appends it to each
 * endpoint's bounded queue (full: the event is dropped and counted). Each endpoint sends
 * one delivery at a time, in order; a network error, 408, 429 or 5xx is retried with
 * exponential backoff (full jitter, capped), up to `max_attempts` tries, under the same
 * `webhook-id` so receivers can deduplicate. Closed with the gateway: pending retries get
 * one last try within the grace time, then whatever is left is abandoned.
 */
import { createHmac, randomUUID } from 'node:crypto';
import type { Agent } from 'undici';
import type { WebhookConfig } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { parseDuration } from '../util/units.js';
import { CONFIG_DEFAULTS } from '../config/defaults.js';
import { EVENT_TYPES, type EventData, type EventSink, type EventType } from './events.js';
import { dispatchRequest, undiciAgent } from '../upstream/undici.js';

const RETRY_STATUS = new Set([408, 429]);

interface Delivery {
  readonly id: string;
  readonly type: EventType;
  readonly body: string;
  tries: number;
}

type Counter = { inc(): void };

/** The base64 key inside a `whsec_…` secret, as Standard Webhooks defines it. */
function signingKey(secret: string): Buffer {
  return Buffer.from(secret.startsWith('whsec_') ? secret.slice(6) : secret, 'base64');
}

/** `v1,<signature>` of one delivery attempt. */
export function signWebhook(key: Buffer, id: string, timestamp: number, body: string): string {
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

class Endpoint {
  readonly name: string;
  private readonly url: URL;
  private readonly key: Buffer;
  private readonly events: ReadonlySet<EventType>;
  private readonly timeoutMs: number;
  private readonly maxAttempts: number;
  private readonly backoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly maxQueue: number;
  private readonly queue: Delivery[] = [];
  private sending = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private closing = false;
  private readonly inflight = new AbortController();
  private idleWaiters: Array<() => void> = [];
  private readonly counts: Record<'delivered' | 'retried' | 'failed' | 'dropped', Counter>;

  constructor(
    config: WebhookConfig,
    index: number,
    private readonly agent: Agent,
    private readonly logger: Logger,
    metrics: Metrics,
  ) {
    this.url = new URL(config.url);
    this.name = config.name ?? `webhook-${index}`;
    this.key = signingKey(config.secret);
    this.events = new Set(config.events ?? EVENT_TYPES);
    this.timeoutMs = parseDuration(config.timeout ?? CONFIG_DEFAULTS.webhook_timeout);
    this.maxAttempts = config.max_attempts ?? CONFIG_DEFAULTS.webhook_max_attempts;
    this.backoffMs = parseDuration(config.backoff ?? CONFIG_DEFAULTS.webhook_backoff);
    this.maxBackoffMs = parseDuration(config.max_backoff ?? CONFIG_DEFAULTS.webhook_max_backoff);
    this.maxQueue = config.max_queue ?? CONFIG_DEFAULTS.webhook_max_queue;
    const counter = metrics.counter(
      'ai_gateway_webhook_deliveries_total',
      'Webhook deliveries by webhook and result: delivered, retried (a try failed, another follows), failed (gave up), dropped (queue full or closing).',
      ['webhook', 'result'],
    );
    this.counts = {
      delivered: counter.labels(this.name, 'delivered'),
      retried: counter.labels(this.name, 'retried'),
      failed: counter.labels(this.name, 'failed'),
      dropped: counter.labels(this.name, 'dropped'),
    };
  }

  wants(type: EventType): boolean {
    return this.events.has(type);
  }

  enqueue(delivery: Delivery): void {
    if (this.closing || this.queue.length >= this.maxQueue) {
      this.counts.dropped.inc();
      this.logger.warn({ webhook: this.name, event: delivery.type, queued: this.queue.length }, 'webhook queue full; event dropped');
      return;
    }
    this.queue.push(delivery);
    this.pump();
  }

  private pump(): void {
    if (this.sending || this.retryTimer !== null) return;
    const next = this.queue[0];
    if (!next) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
      return;
    }
    this.sending = true;
    void this.send(next).then((outcome) => {
      this.sending = false;
      if (outcome === 'retry' && !this.closing && next.tries < this.maxAttempts) {
        this.counts.retried.inc();
        const cap = Math.min(this.maxBackoffMs, this.backoffMs * 2 ** (next.tries - 1));
        this.retryTimer = setTimeout(() => {
          this.retryTimer = null;
          this.pump();
        }, Math.random() * cap);
        this.retryTimer.unref();
        return;
      }
      this.queue.shift();
      if (outcome === 'ok') this.counts.delivered.inc();
      else {
        this.counts.failed.inc();
        this.logger.warn({ webhook: this.name, event: next.type, webhook_id: next.id, tries: next.tries }, 'webhook delivery failed; giving up');
      }
      this.pump();
    });
  }

  /** One try: 'ok' (2xx), 'retry' (worth another try) or 'fail' (the receiver refused it). */
  private async send(delivery: Delivery): Promise<'ok' | 'retry' | 'fail'> {
    delivery.tries++;
    const timestamp = Math.floor(Date.now() / 1000);
    try {
      const response = await dispatchRequest(this.agent, {
        origin: this.url.origin,
        path: this.url.pathname + this.url.search,
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'sidegate',
          'webhook-id': delivery.id,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': signWebhook(this.key, delivery.id, timestamp, delivery.body),
        },
        body: delivery.body,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
        signal: this.inflight.signal,
      });
      await response.body.dump();
      const status = response.statusCode;
      if (status >= 200 && status < 300) return 'ok';
      return status >= 500 || RETRY_STATUS.has(status) ? 'retry' : 'fail';
    } catch {
      return 'retry';
    }
  }

  /** Stops retrying: a pending retry gets its last try now. Resolves once the queue is empty. */
  drain(): Promise<void> {
    this.closing = true;
    if (this.retryTimer !== null) {
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
      this.pump();
    }
    if (!this.sending && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  abandon(): void {
    this.closing = true;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    for (let i = 0; i < this.queue.length; i++) this.counts.dropped.inc();
    this.queue.length = 0;
    this.inflight.abort();
  }
}

/** The configured webhooks as one event sink. */
export class Webhooks implements EventSink {
  private readonly agent: Agent = new (undiciAgent())({ connections: 4 });
  private readonly endpoints: readonly Endpoint[];
  private closed = false;

  constructor(configs: readonly WebhookConfig[], logger: Logger, metrics: Metrics) {
    this.endpoints = configs.map((config, i) => new Endpoint(config, i, this.agent, logger, metrics));
  }

  emit<T extends EventType>(type: T, data: EventData[T]): void {
    if (this.closed) return;
    let body: string | null = null;
    for (const endpoint of this.endpoints) {
      if (!endpoint.wants(type)) continue;
      body ??= JSON.stringify({ type, timestamp: new Date().toISOString(), data });
      endpoint.enqueue({ id: `msg_${randomUUID()}`, type, body, tries: 0 });
    }
  }

  /** Delivers what is queued for up to `graceMs` (pending retries get one last try), then abandons the rest. */
  async close(graceMs: number): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(this.endpoints.map((e) => e.drain())),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, graceMs);
      }),
    ]);
    clearTimeout(timer);
    for (const endpoint of this.endpoints) endpoint.abandon();
    await this.agent.destroy();
  }
}
