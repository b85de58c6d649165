import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { GatewayError } from '../errors.js';
import { RequestAbort } from './abort.js';
import { parseJsonBody, streamedBody } from './body.js';
import type { CompiledRouter, CompiledTarget, Pipeline } from './compiled.js';
import type { WireFormat } from '../formats/format.js';
import { OPENAI_FORMAT } from '../formats/openai.js';
import type { Slot } from './slot.js';
import type { RequestSpan } from '../observability/telemetry.js';
import type { Identity } from './identity.js';

const NO_TARGETS: readonly CompiledTarget[] = Object.freeze([]);
const MAX_REQUEST_ID = 128;

/** One upstream try as the access log shows it. */
export interface AttemptRecord {
  upstream: string;
  /** The status it answered, or 0 when it failed without one. */
  status: number;
  /** The failure (`connect_error`, `timeout`, `aborted`, …) or null. */
  error: string | null;
  /** Milliseconds to response headers (or to the failure). */
  ms: number;
  /** The upstream's own id for the request, when it sent one (OpenAI's `x-request-id`, Anthropic's `request-id`). */
  upstream_request_id?: string;
}
const REQUEST_ID_OK = /^[\x21-\x7e]+$/;

/** A caller-sent x-request-id is kept when it is short printable ASCII; otherwise a new one. */
function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  if (typeof given === 'string' && given.length <= MAX_REQUEST_ID && REQUEST_ID_OK.test(given)) return given;
  return randomUUID();
}

/**
 * Everything one request carries through the pipeline. One instance per request, with
 * plain fields (no per-request closures); stages read and write it.
 */
export class RequestContext {
  readonly id: string;
  /** performance.now() at arrival. */
  readonly startedAt: number;
  readonly method: string;
  /** Aborted when the client goes away or the gateway gives up; every upstream call listens. */
  readonly abort = new RequestAbort();

  router: CompiledRouter | null = null;
  /**
   * Who the caller is: set by authentication (tenancy's `auth.keys`, or a user hook's
   * `authenticate`), null until then or without either.
   */
  identity: Identity | null = null;
  /** The API the caller speaks (by the path it called): errors reach it in this format. */
  format: WireFormat = OPENAI_FORMAT;
  /**
   * Where on the ordered line (STAGE_ORDER) the answer was made: Infinity for an upstream
   * answer, the replying stage's number for a LocalReply. Response stages placed at or
   * after it are skipped: they never saw the request.
   */
  replyDepth = Infinity;
  /** The path sent upstream: `/v1/...` plus the query string. */
  upstreamPath = '';
  /** The body's bytes as received (JSON endpoints only). */
  rawBody: Buffer | null = null;
  private parsedBody: Record<string, unknown> | undefined = undefined;
  /** `rawBody` is known to parse (see KnownBodies) and is parsed when `body` is first read. */
  private unparsed = false;
  private rawKeyOf: Buffer | null = null;
  private rawKeyText = '';
  /** True when a stage changed `body`, so it must be serialized again. */
  bodyChanged = false;
  /** Counts the changes to `body` (markBodyChanged): what was derived from it at one count holds until the next. */
  bodyVersion = 0;
  /** The request asked for a streamed (SSE) answer. */
  stream = false;
  /** The `model` the caller sent, before any target rewrote it. */
  requestedModel: string | undefined = undefined;
  /** The targets this request may try, in order (strategy, then target filters). */
  candidates: readonly CompiledTarget[] = NO_TARGETS;
  /** The target that answered (or, on failure, the last one tried). */
  target: CompiledTarget | null = null;
  /** Every upstream try, in the order they ended (for the access log and headers). */
  readonly attempts: AttemptRecord[] = [];

  /** The answer being sent is a server-sent event stream (errors then become an SSE event). */
  responseIsSse = false;
  /** Status sent to the client (0 until the head is written). */
  status = 0;
  /** Milliseconds from arrival to the first body byte written to the client. */
  ttfbMs = -1;
  /** Milliseconds the upstream took to send response headers. */
  upstreamMs = -1;
  /** The gateway's own milliseconds until the response head: total minus upstream wait. */
  overheadMs = -1;
  /** True once the client went away before the response was complete. */
  clientClosed = false;
  /** True once the whole answer was handed to the client. */
  completed = false;
  bytesOut = 0;
  /** Input tokens the answer's `usage` reports, cached ones included (-1: not reported). */
  promptTokens = -1;
  completionTokens = -1;
  /** Of the input tokens, those read from the provider's prompt cache (priced at the cached rate). */
  cachedTokens = 0;
  /** Of the input tokens, those written to the provider's prompt cache (Anthropic prices them higher). */
  cacheWriteTokens = 0;
  /** Facts stages add to the request's access log line (what was trimmed, which check failed); null until one does. */
  notes: Record<string, unknown> | null = null;
  error: GatewayError | null = null;
  /** The request's OpenTelemetry span, when `telemetry` is configured (else null, and nothing is traced). */
  trace: RequestSpan | null = null;
  /**
   * A model that wins over the targets' own (an A/B variant's, a classifier's): set by a
   * request-side stage, sent to whichever target is tried.
   */
  modelOverride: string | undefined = undefined;
  /** The router a request-side stage sent this request on to (see `reroute`), until the gateway moves it there. */
  nextRouter: string | null = null;
  /** Where the gateway's list of requests in flight holds this one (server/in-flight.ts), or -1. */
  inFlightSlot = -1;
  private deadlineTimer: NodeJS.Timeout | null = null;
  /** Per-request stage state by typed slot, created on first use. */
  private slots: Map<Slot<unknown>, unknown> | null = null;

  constructor(
    readonly pipeline: Pipeline,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
  ) {
    this.id = requestIdOf(req);
    this.startedAt = performance.now();
    this.method = req.method ?? 'GET';
  }

  /** A stage's per-request value in `slot`, or undefined. */
  get<T>(slot: Slot<T>): T | undefined {
    return this.slots?.get(slot) as T | undefined;
  }

  set<T>(slot: Slot<T>, value: T): void {
    (this.slots ??= new Map()).set(slot, value);
  }

  has(slot: Slot<unknown>): boolean {
    return this.slots?.has(slot) ?? false;
  }

  /** The parsed JSON body, when the endpoint is a JSON one; stages may edit it. */
  get body(): Record<string, unknown> | undefined {
    if (this.unparsed) {
      this.unparsed = false;
      this.parsedBody = parseJsonBody(this.rawBody!);
    }
    return this.parsedBody;
  }

  set body(value: Record<string, unknown> | undefined) {
    this.unparsed = false;
    this.parsedBody = value;
  }

  /** The request has a JSON body (reading `body` may parse it; this never does). */
  get hasJsonBody(): boolean {
    return this.unparsed || this.parsedBody !== undefined;
  }

  /** Takes `rawBody` as the JSON body, parsed when a stage first reads `body`: bytes that parsed before (KnownBodies). */
  deferBody(): void {
    this.parsedBody = undefined;
    this.unparsed = true;
  }

  /** The received body's bytes as a one-byte string, a Map key for them (made once per buffer); null without a body. */
  rawKey(): string | null {
    const raw = this.rawBody;
    if (raw === null) return null;
    if (this.rawKeyOf !== raw) {
      this.rawKeyText = raw.toString('latin1');
      this.rawKeyOf = raw;
    }
    return this.rawKeyText;
  }

  /** The model the request names (after any rewrite). */
  get model(): string | undefined {
    if (this.unparsed) return this.requestedModel; // nothing read the body, so nothing rewrote it
    const m = this.parsedBody?.model;
    return typeof m === 'string' ? m : undefined;
  }

  /** True when the request can be sent again (retry, fallback, hedging): its body is held, or it has none. */
  get replayable(): boolean {
    return this.hasJsonBody || !hasBody(this.req);
  }

  /**
   * Aborts the request with the error `reason()` makes after `ms` unless it has finished by
   * then (the `timeout.total` deadline). The error is built only when the deadline passes:
   * an Error captures a stack trace, too dear to pay on every request. The timer is
   * cleared when the request ends.
   */
  setDeadline(ms: number, reason: () => GatewayError): void {
    this.deadlineTimer = setTimeout(abortWith, ms, this.abort, reason);
  }

  /** Clears every timer the request set; called once it is over. */
  clearTimers(): void {
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    this.deadlineTimer = null;
  }

  /** The error the gateway aborted this request with (a deadline), if it did. */
  abortedBy(): GatewayError | null {
    return this.abort.reason instanceof GatewayError ? this.abort.reason : null;
  }

  /** Adds a field to this request's access log line. */
  note(name: string, value: unknown): void {
    (this.notes ??= {})[name] = value;
  }

  /**
   * Sends the request on to another router of the pipeline (an A/B variant, a classifier's
   * route): the current router's remaining request stages are skipped and the other
   * router's stages run from the start. A request moves once; false when it already did
   * (or `name` is the router it is on).
   */
  reroute(name: string): boolean {
    if (this.rerouted || this.router?.name === name || !this.pipeline.routers.has(name)) return false;
    this.rerouted = true;
    this.nextRouter = name;
    this.note('rerouted_from', this.router?.name ?? null);
    return true;
  }

  private rerouted = false;

  markBodyChanged(): void {
    this.bodyChanged = true;
    this.bodyVersion++;
  }

  /**
   * What to send upstream as the body: the original bytes when nothing changed them, the
   * re-serialized JSON when a stage did, or the client's stream for pass-through bodies.
   */
  requestBody(): Buffer | Readable | null {
    if (this.hasJsonBody) {
      if (this.bodyChanged) {
        this.rawBody = Buffer.from(JSON.stringify(this.body));
        this.bodyChanged = false;
      }
      return this.rawBody;
    }
    if (!hasBody(this.req)) return null;
    return (this.streamed ??= streamedBody(this.req, this.pipeline.maxBody));
  }

  /** The pass-through body as sent upstream (counted against server.max_body when chunked). */
  private streamed: Readable | null = null;
}

function abortWith(abort: RequestAbort, reason: () => GatewayError): void {
  abort.abort(reason());
}

function hasBody(req: IncomingMessage): boolean {
  if (req.method === 'GET' || req.method === 'HEAD') return false;
  const len = req.headers['content-length'];
  return len === undefined ? req.headers['transfer-encoding'] !== undefined : len !== '0';
}
