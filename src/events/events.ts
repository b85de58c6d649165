/**
 * The gateway's outgoing events: what happened, for other systems (webhooks today).
 * Emitters call `events.emit(type, data)`; with no `webhooks:` configured the sink is
 * NO_EVENTS and an emit does nothing. Emitting never blocks, never throws and never
 * waits on the network: delivery happens later, off the request path.
 */

export const EVENT_TYPES = [
  'budget.threshold',
  'circuit.opened',
  'circuit.closed',
  'reload.succeeded',
  'reload.failed',
  'key.expired',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

/** The `data` of each event type, as sent in the webhook body. */
export interface EventData {
  /** A budget's spend crossed one of its `thresholds` (a fraction of `usd`) in this period. */
  'budget.threshold': {
    router: string;
    scope: string;
    spender: string;
    threshold: number;
    spend_usd: number;
    limit_usd: number;
    period: string;
    resets_at: string;
  };
  /** `health_check` ejected a target (its circuit opened for `cooldown_ms`). */
  'circuit.opened': { router: string; upstream: string; model: string | null; cooldown_ms: number };
  /** A half-open circuit's test request succeeded: the target is back. */
  'circuit.closed': { router: string; upstream: string; model: string | null };
  /** A new config is live; `changes` names what it added, removed or changed. */
  'reload.succeeded': { version: string; previous: string; compile_ms: number; changes: unknown };
  /** A config failed to load or compile; `running` is the version still serving. */
  'reload.failed': { running: string; errors: string[] };
  /** An API key reached its `expires` time (emitted by tenancy's key checks). */
  'key.expired': { key: string; team: string | null; expired_at: string };
}

/** One event as delivered: `{ type, timestamp, data }` (the Standard Webhooks payload shape). */
export interface GatewayEvent<T extends EventType = EventType> {
  readonly type: T;
  /** ISO 8601, when it happened. */
  readonly timestamp: string;
  readonly data: EventData[T];
}

export interface EventSink {
  emit<T extends EventType>(type: T, data: EventData[T]): void;
}

/** The sink when no webhook is configured: emitting costs a call and nothing else. */
export const NO_EVENTS: EventSink = Object.freeze({ emit() {} });
