import type { RequestContext } from './context.js';
import type { GatewayError } from '../errors.js';
import type { ResponseHead, UpstreamResponse } from '../providers/provider.js';
import type { CompiledTarget } from './compiled.js';
import type { AbortLike } from './abort.js';
import type { Caller } from './caller-key.js';

/**
 * A reply made by the gateway itself (a cache hit, a block, a rate-limit refusal). A stage
 * returns one to stop the request; it skips the upstream call and walks the response side
 * of the stages placed before the one that made it (see STAGE_ORDER), like any answer.
 */
export interface LocalReply {
  status: number;
  headers?: Record<string, string>;
  /** An object is sent as JSON; a string or Buffer as it is. */
  body: string | Buffer | object;
}

/** What a request-side handler returns: nothing to continue, a LocalReply to stop. */
/** What a chunk handler returns: the event (or a replacement), several events, null to drop, nothing to keep. */
export type ChunkResult = SseEvent | readonly SseEvent[] | null | void | undefined;

export type StageResult = void | LocalReply | undefined;
export type MaybePromise<T> = T | Promise<T>;

/** One server-sent event of a streamed response, already split on its blank line. */
export interface SseEvent {
  /** The raw bytes of the event, including its terminating blank line. */
  raw: Buffer;
  /** The `data:` payload joined by newlines, or null when the event has none. */
  data: string | null;
  /** The `event:` name, or null. */
  event: string | null;
}

/**
 * One try of the upstream call. Call wrappers make new attempts from the one they get:
 * fallback and hedging change the target, timeout sets the signal and the per-try limits.
 * Several may run at once (hedging), so nothing per-try lives on the RequestContext.
 */
export interface Attempt {
  readonly target: CompiledTarget;
  /** Aborts this try; the client leaving or the request's deadline aborts every try. */
  readonly signal: AbortLike;
  /** Milliseconds to wait for response headers; null: the upstream's own `timeout`. */
  readonly firstByteMs: number | null;
  /** Longest gap between body chunks, ms; null: the upstream's own `timeout`. */
  readonly idleMs: number | null;
  /** The W3C `traceparent` naming this try's span, sent upstream instead of the caller's (telemetry on). */
  readonly traceparent?: string;
}

/** Performs (one or more) upstream calls for a request, starting from `attempt`. */
export type UpstreamCall = (ctx: RequestContext, attempt: Attempt) => Promise<UpstreamResponse>;

/**
 * The stage interface. Built-in features and interceptors implement it, and so do user
 * hooks passed to createGateway(); seed 002's hook kinds map onto it: authentication →
 * `authenticate`, before request → `onRequest`, after request → `onResponse` /
 * `onResponseBody`, per chunk → `onChunk`, error → `onError`.
 *
 * Handlers are built once at compile time (by a feature's `create()`), so they close over
 * their config, not over a request. Request-side handlers run in pipeline order,
 * response-side handlers in reverse. A handler continues by returning nothing and stops
 * by returning a LocalReply or throwing a GatewayError.
 */
export interface Stage {
  readonly name: string;
  /**
   * Only for user hooks: the hook's place on the pipeline's one ordered line
   * (STAGE_ORDER: authenticate 100, rate_limit 200, budget 300, cache 400, interceptors
   * 500–599, target selection 600, structured_output 650, mcp_tools 680, fallback 700,
   * hedging 750, retry 800, timeout 900, health_check 950). Lower runs first on the request side and last on the response side.
   * Default 1000: after every built-in stage. Equal numbers: built-ins first, then hooks in
   * registration order.
   */
  readonly priority?: number;
  /** Decides who the caller is; may refuse with a LocalReply or a GatewayError (401). Runs before every onRequest. */
  authenticate?(ctx: RequestContext): MaybePromise<StageResult>;
  /** Before target selection; may read and edit `ctx.body` (then call `ctx.markBodyChanged()`). */
  onRequest?(ctx: RequestContext): MaybePromise<StageResult>;
  /**
   * A WebSocket upgrade on this router, once its caller is known (no body, no answer of
   * the gateway's own to read: the session is the upstream's). Stages that count requests
   * count it as one; refuse by throwing a GatewayError (the client gets its status).
   */
  onUpgrade?(caller: Caller): MaybePromise<void>;
  /**
   * Target selection: gets the targets in the order the router's strategy chose and
   * returns them filtered or reordered (health, A/B splits). Never return an empty list.
   */
  filterTargets?(ctx: RequestContext, candidates: readonly CompiledTarget[]): readonly CompiledTarget[];
  /** Wraps the upstream call (retry, fallback, timeouts, hedging). Composed once at compile time. */
  wrapCall?(next: UpstreamCall): UpstreamCall;
  /**
   * Response headers are known (from the upstream, a cache, a stage's reply);
   * `response.status` and `response.headers` may be edited.
   */
  onResponse?(ctx: RequestContext, response: ResponseHead): MaybePromise<void>;
  /**
   * A non-streamed JSON answer, parsed. Declaring this handler makes the gateway buffer
   * and parse such answers. Return the value (the same object edited in place, or a new
   * one) when it changed, nothing when it did not.
   */
  onResponseBody?(ctx: RequestContext, body: unknown): MaybePromise<unknown>;
  /**
   * One SSE event of a streamed answer: return it (or a replacement, or several events) to
   * forward, null to drop. A stage that needs to see across events (a value split over two
   * deltas) holds events back by returning `[]` and releases them later, or in onStreamEnd.
   */
  onChunk?(ctx: RequestContext, event: SseEvent): MaybePromise<ChunkResult>;
  /** The stream ended: events this stage still holds, to send before the end. */
  onStreamEnd?(ctx: RequestContext): MaybePromise<readonly SseEvent[] | void>;
  /**
   * Observes the answer's body bytes as they leave the stages placed after this one (so a
   * cache records what the inner stages made of the answer). Read-only.
   */
  onData?(ctx: RequestContext, chunk: Buffer): void;
  /** The request failed with this error (before or after the response started). */
  onError?(ctx: RequestContext, error: GatewayError): void;
  /** The exchange is over (response finished or client gone): accounting, cache store. */
  onDone?(ctx: RequestContext): void;
  /** This stage's section of the router's entry in the admin /stats document. */
  stats?(): Record<string, unknown>;
  /** Releases what `create()` started (timers, probes) once its pipeline is retired. */
  close?(): void | Promise<void>;
}

/** A stage with its place on the pipeline's ordered line (STAGE_ORDER). */
export interface PlacedStage {
  readonly stage: Stage;
  readonly order: number;
}
